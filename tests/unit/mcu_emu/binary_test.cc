// The hir-mcu-emu executable itself: prints/writes its pty path, answers, exits cleanly on SIGTERM
// and SIGHUP.
// Skipped when the binary has not been built next to this test.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <csignal>
#include <fstream>
#include <iterator>

#include "core/process.h"
#include "unit/mcu_emu/emu_fixture.h"

namespace hir::mcu_emu::test {
namespace {

std::string read_line_when_ready(const std::string& path, Duration timeout) {
  const TimePoint end = SteadyClock::now() + timeout;
  while (SteadyClock::now() < end) {
    std::ifstream f(path);
    std::string line;
    if (std::getline(f, line) && !line.empty()) return line;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return "";
}

// SIGHUP as SIGTERM: its default action killed the emulator at once (status 129) when the
// session that started it went away.
TEST(Binary, PtyModeAnswersAndStopsOnSigtermAndSighup) {
  const std::string bin = executable_dir() + "/hir-mcu-emu";
  struct stat st{};
  if (::stat(bin.c_str(), &st) != 0) GTEST_SKIP() << bin << " not built";
  for (int sig : {SIGTERM, SIGHUP}) {
    SCOPED_TRACE(sig == SIGHUP ? "SIGHUP" : "SIGTERM");
    const std::string path_file = ::testing::TempDir() + "/hir-mcu-emu-test.path";
    const std::string log = ::testing::TempDir() + "/hir-mcu-emu-test-" + std::to_string(sig) + ".log";
    std::remove(path_file.c_str());
    std::remove(log.c_str());  // the child appends to it
    auto child = ChildProcess::spawn({bin, "--model", blob_path(), "--path-file", path_file,
                                      "--heartbeat-ms", "50"}, log);
    ASSERT_TRUE(child.ok()) << child.status().to_string();
    const std::string pty = read_line_when_ready(path_file, std::chrono::seconds(10));
    ASSERT_FALSE(pty.empty());
    auto line = LineClient::open_pty(pty);
    ASSERT_TRUE(line);
    ASSERT_TRUE(line->send(HIRFW_T_STATUS_REQUEST, 42, {}));
    EXPECT_TRUE(line->wait_id(HIRFW_T_STATUS, 42, std::chrono::seconds(5)));
    EXPECT_TRUE(line->wait_id(HIRFW_T_STATUS, 0, std::chrono::seconds(5)));  // heartbeat
    EXPECT_EQ(child->stop(std::chrono::seconds(5), sig), 0);
    // The orderly stop, not a kill: its closing line.
    std::ifstream in(log);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_NE(text.find("hir-mcu-emu: exiting"), std::string::npos) << text;
  }
}

TEST(Binary, TcpModeWritesItsPort) {
  const std::string bin = executable_dir() + "/hir-mcu-emu";
  struct stat st{};
  if (::stat(bin.c_str(), &st) != 0) GTEST_SKIP() << bin << " not built";
  const std::string port_file = ::testing::TempDir() + "/hir-mcu-emu-test.port";
  std::remove(port_file.c_str());
  auto child = ChildProcess::spawn({bin, "--model", blob_path(), "--tcp", "0", "--port-file", port_file},
                                   ::testing::TempDir() + "/hir-mcu-emu-test.log");
  ASSERT_TRUE(child.ok());
  auto port = wait_for_port_file(port_file, std::chrono::seconds(10));
  ASSERT_TRUE(port.ok());
  auto line = LineClient::connect_tcp(*port);
  ASSERT_TRUE(line);
  ASSERT_TRUE(line->send(HIRFW_T_INFO_REQUEST, 3, {}));
  EXPECT_TRUE(line->wait_id(HIRFW_T_INFO, 3, std::chrono::seconds(5)));
  EXPECT_EQ(child->stop(std::chrono::seconds(5)), 0);
}

}  // namespace
}  // namespace hir::mcu_emu::test
