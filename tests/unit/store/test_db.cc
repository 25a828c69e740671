// The PostgreSQL server (and SQLite directory) the store tests share. initdb refuses to run as
// root, and the tests run as root in CI, so as root the server runs as the `postgres` system
// user: its directories are chown'ed to it and the child drops privileges before exec.
#include "test_db.h"

#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "testing/ports.h"

namespace hir::store::testing {
namespace {

namespace fs = std::filesystem;
constexpr const char* kPgBin = "/usr/lib/postgresql/15/bin";

const std::string& temp_root() {
  static const std::string root = [] {
    std::string tmpl = (fs::temp_directory_path() / "hir-store-test.XXXXXX").string();
    const char* made = ::mkdtemp(tmpl.data());
    return std::string(made ? made : "");
  }();
  return root;
}

using ::hir::testing::free_port;

// Runs argv as `as` (a uid/gid pair, or the current user when null); output to log_path.
// The child gets SIGINT (PostgreSQL's fast shutdown) if this process dies first.
pid_t spawn(const std::vector<std::string>& argv, const passwd* as, const std::string& log_path) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  uid_t uid = as ? as->pw_uid : 0;
  gid_t gid = as ? as->pw_gid : 0;
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  // Only async-signal-safe calls from here to exec: other test threads may hold locks.
  int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (log >= 0) {
    ::dup2(log, 1);
    ::dup2(log, 2);
  }
  if (as && (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0)) ::_exit(126);
  ::prctl(PR_SET_PDEATHSIG, SIGINT);  // after setuid, which clears it
  ::execv(args[0], args.data());
  ::_exit(127);
}

int wait_exit(pid_t pid) {
  int st = 0;
  if (::waitpid(pid, &st, 0) != pid) return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

class PgServer {
 public:
  // Starts the server; on failure `error` says why.
  bool start(std::string* error) {
    dir_ = temp_dir();
    const passwd* pg = nullptr;
    if (::geteuid() == 0) {
      pg = ::getpwnam("postgres");
      if (!pg) return fail(error, "running as root and there is no `postgres` user for initdb");
      std::error_code ec;
      if (::chown(dir_.c_str(), pg->pw_uid, pg->pw_gid) != 0) return fail(error, "chown " + dir_);
      fs::permissions(temp_root(), fs::perms::owner_all | fs::perms::group_exec |
                                       fs::perms::others_exec, ec);
    }
    std::string data = dir_ + "/data", log = dir_ + "/postgres.log";
    pid_t init = spawn({std::string(kPgBin) + "/initdb", "-D", data, "-A", "trust", "-U", "hir",
                        "-N", "-E", "UTF8", "--locale=C"},
                       pg, log);
    if (wait_exit(init) != 0) return fail(error, "initdb failed; see " + log);
    // A port picked free can be taken before postgres binds it; try a few.
    for (int attempt = 0; attempt < 5; ++attempt) {
      port_ = free_port();
      pid_ = spawn({std::string(kPgBin) + "/postgres", "-D", data, "-p", std::to_string(port_),
                    "-k", dir_, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"},
                   pg, log);
      if (wait_ready()) return true;
      stop();
    }
    return fail(error, "postgres did not start; see " + log);
  }

  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGINT);  // fast shutdown, as `pg_ctl stop -m fast`
    for (int i = 0; i < 200; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  std::string url(const std::string& db) const {
    return "postgres://hir@127.0.0.1:" + std::to_string(port_) + "/" + db;
  }

  std::string create_database() {
    std::string name = "hir_t" + std::to_string(++count_);
    PGconn* c = PQconnectdb(url("postgres").c_str());
    bool ok = PQstatus(c) == CONNECTION_OK;
    if (ok) {
      // A generated identifier (not a value), so it can't be a bound parameter.
      PGresult* r = PQexec(c, ("CREATE DATABASE " + name).c_str());
      ok = PQresultStatus(r) == PGRES_COMMAND_OK;
      PQclear(r);
    }
    PQfinish(c);
    return ok ? url(name) : "";
  }

 private:
  static bool fail(std::string* error, const std::string& why) {
    *error = why;
    return false;
  }

  bool wait_ready() {
    std::string u = url("postgres");
    for (int i = 0; i < 300; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return false;  // exited: the port was taken, most likely
      }
      if (PQping(u.c_str()) == PQPING_OK) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  int count_ = 0;
};

std::mutex g_mu;
std::unique_ptr<PgServer> g_pg;
std::string g_pg_error;
bool g_pg_tried = false;

class Cleanup : public ::testing::Environment {
 public:
  void TearDown() override {
    std::lock_guard lk(g_mu);
    if (g_pg) g_pg->stop();
    g_pg.reset();
    std::error_code ec;
    if (!temp_root().empty()) fs::remove_all(temp_root(), ec);
  }
};
[[maybe_unused]] ::testing::Environment* const g_cleanup =
    ::testing::AddGlobalTestEnvironment(new Cleanup);

}  // namespace

std::string temp_dir() {
  static std::atomic<int> n{0};
  std::string d = temp_root() + "/d" + std::to_string(++n);
  fs::create_directories(d);
  return d;
}

bool pg_drop_connections(const std::string& url) {
  std::lock_guard lk(g_mu);
  if (!g_pg) return false;
  std::string db = url.substr(url.rfind('/') + 1);
  PGconn* c = PQconnectdb(g_pg->url("postgres").c_str());
  bool ok = PQstatus(c) == CONNECTION_OK;
  if (ok) {
    const char* params[] = {db.c_str()};
    PGresult* r = PQexecParams(c,
                               "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                               "WHERE datname = $1 AND pid <> pg_backend_pid()",
                               1, nullptr, params, nullptr, nullptr, 0);
    ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0;
    PQclear(r);
  }
  PQfinish(c);
  return ok;
}

std::string fresh_database_url(const std::string& backend, std::string* skip) {
  if (backend == "sqlite") return "sqlite://" + temp_dir() + "/hir.db";
  std::lock_guard lk(g_mu);
  if (!g_pg_tried) {
    g_pg_tried = true;
    if (!fs::exists(std::string(kPgBin) + "/initdb") || !fs::exists(std::string(kPgBin) + "/postgres")) {
      g_pg_error = std::string("PostgreSQL 15 binaries not found in ") + kPgBin;
    } else {
      auto server = std::make_unique<PgServer>();
      std::string why;
      if (server->start(&why)) g_pg = std::move(server);
      else ADD_FAILURE() << "PostgreSQL test server: " << why;
    }
  }
  if (!g_pg) {
    *skip = g_pg_error;
    return "";
  }
  return g_pg->create_database();
}

}  // namespace hir::store::testing
