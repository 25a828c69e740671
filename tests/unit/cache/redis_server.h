// A real redis-server for the cache tests, started on a free 127.0.0.1 port and stopped with
// its handle, plus a raw hiredis client to look at what the cache wrote.
#pragma once

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "core/process.h"
#include "testing/ports.h"

namespace hir::cache::testing {

inline constexpr const char* kRedisServer = "/usr/bin/redis-server";

inline bool redis_available() { return ::access(kRedisServer, X_OK) == 0; }

using ::hir::testing::free_port;

struct RawContext {
  void operator()(redisContext* c) const { redisFree(c); }
};
struct RawReply {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using RawReplyPtr = std::unique_ptr<redisReply, RawReply>;

// One command on a fresh connection; nullptr when the server does not answer.
inline RawReplyPtr raw_command(int port, std::initializer_list<std::string> args) {
  std::unique_ptr<redisContext, RawContext> c(redisConnectWithTimeout("127.0.0.1", port, timeval{1, 0}));
  if (!c || c->err != 0) return nullptr;
  redisSetTimeout(c.get(), timeval{1, 0});
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  return RawReplyPtr(static_cast<redisReply*>(
      redisCommandArgv(c.get(), static_cast<int>(argv.size()), argv.data(), lens.data())));
}

class RedisServer {
 public:
  ~RedisServer() { resume(); }

  // Starts on `port` (0: a free one) and waits until it answers PING.
  ::testing::AssertionResult start(int port = 0) {
    port_ = port != 0 ? port : free_port();
    std::string dir = std::filesystem::temp_directory_path().string();
    log_ = dir + "/hir-cache-redis-" + std::to_string(port_) + ".log";
    auto p = ChildProcess::spawn({kRedisServer, "--bind", "127.0.0.1", "--port", std::to_string(port_),
                                  "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", dir},
                                 log_);
    if (!p.ok()) return ::testing::AssertionFailure() << p.status().message();
    proc_ = std::move(*p);
    for (int i = 0; i < 200 && proc_.running(); ++i) {
      auto r = raw_command(port_, {"PING"});
      if (r && r->type == REDIS_REPLY_STATUS) return ::testing::AssertionSuccess();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return ::testing::AssertionFailure() << "redis-server did not answer PING; log: " << log_;
  }
  void kill() { proc_.kill_now(); }
  void pause() { signal(SIGSTOP); paused_ = true; }
  void resume() {
    if (paused_) signal(SIGCONT);
    paused_ = false;
  }
  int port() const { return port_; }

 private:
  void signal(int sig) {
    if (proc_.pid() > 0) ::kill(proc_.pid(), sig);
  }
  ChildProcess proc_;
  int port_ = 0;
  bool paused_ = false;
  std::string log_;
};

}  // namespace hir::cache::testing
