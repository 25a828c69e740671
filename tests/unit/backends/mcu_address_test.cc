#include "backends/mcu_address.h"

#include <gtest/gtest.h>

#include "backends/mcu_pool.h"

namespace hir::backends {
namespace {

TEST(McuAddress, SerialTakesTheDefaultBaud) {
  auto a = parse_mcu_address("serial:///dev/pts/7");
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_EQ(a->kind, McuAddress::Kind::kSerial);
  EXPECT_EQ(a->path, "/dev/pts/7");
  EXPECT_EQ(a->baud, 921600u);
  EXPECT_EQ(a->url, "serial:///dev/pts/7");
}

TEST(McuAddress, SerialBaudFromTheQuery) {
  auto a = parse_mcu_address("serial:///dev/ttyUSB0?baud=115200");
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_EQ(a->path, "/dev/ttyUSB0");
  EXPECT_EQ(a->baud, 115200u);
}

TEST(McuAddress, SerialErrorsSayWhatIsWrong) {
  struct Case {
    const char* url;
    const char* says;
  } cases[] = {
      {"serial://dev/ttyUSB0", "absolute"},
      {"serial://", "absolute"},
      {"serial:///dev/pts/1?baud=12345", "baud"},
      {"serial:///dev/pts/1?baud=", "baud"},
      {"serial:///dev/pts/1?baud=fast", "baud"},
      {"serial:///dev/pts/1?parity=even", "unknown option 'parity'"},
  };
  for (const auto& c : cases) {
    auto a = parse_mcu_address(c.url);
    ASSERT_FALSE(a.ok()) << c.url;
    EXPECT_EQ(a.status().code(), Code::kInvalidArgument) << c.url;
    EXPECT_NE(a.status().message().find(c.says), std::string::npos) << a.status().message();
  }
}

TEST(McuAddress, Tcp) {
  auto a = parse_mcu_address("tcp://127.0.0.1:5555");
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_EQ(a->kind, McuAddress::Kind::kTcp);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 5555);
  auto l = parse_mcu_address("tcp://localhost:1/");
  ASSERT_TRUE(l.ok()) << l.status().to_string();
  EXPECT_EQ(l->host, "127.0.0.1");
  auto v6 = parse_mcu_address("tcp://[::1]:7000");
  ASSERT_TRUE(v6.ok()) << v6.status().to_string();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 7000);
}

TEST(McuAddress, TcpErrorsSayWhatIsWrong) {
  struct Case {
    const char* url;
    const char* says;
  } cases[] = {
      {"tcp://127.0.0.1", "host:port"},
      {"tcp://127.0.0.1:0", "1..65535"},
      {"tcp://127.0.0.1:70000", "1..65535"},
      {"tcp://127.0.0.1:http", "1..65535"},
      {"tcp://mcu-bridge.local:5555", "numeric"},
      {"tcp://127.0.0.1:5555/path", "no path"},
      {"tcp://[::1:5555", "ipv6"},
      {"http://127.0.0.1:80", "expected serial"},
      {"", "expected serial"},
  };
  for (const auto& c : cases) {
    auto a = parse_mcu_address(c.url);
    ASSERT_FALSE(a.ok()) << c.url;
    EXPECT_EQ(a.status().code(), Code::kInvalidArgument) << c.url;
    EXPECT_NE(a.status().message().find(c.says), std::string::npos) << a.status().message();
  }
}

TEST(McuPoolCreate, RefusesBadAddressesDuplicatesAndOptions) {
  auto none = McuPool::create({});
  EXPECT_EQ(none.status().code(), Code::kInvalidArgument);
  auto bad = McuPool::create({"tcp://127.0.0.1:1", "serial://relative"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("serial://relative"), std::string::npos);
  auto dup = McuPool::create({"tcp://127.0.0.1:9", "tcp://localhost:9"});
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.status().message().find("twice"), std::string::npos);
  McuPoolOptions o;
  o.max_outstanding = 0;
  EXPECT_EQ(McuPool::create({"tcp://127.0.0.1:9"}, o).status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace hir::backends
