#include "core/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <thread>

namespace hir {

ChildProcess::ChildProcess(ChildProcess&& o) noexcept : pid_(o.pid_), status_(o.status_) {
  o.pid_ = -1;
}

ChildProcess& ChildProcess::operator=(ChildProcess&& o) noexcept {
  if (this != &o) {
    kill_now();
    pid_ = o.pid_;
    status_ = o.status_;
    o.pid_ = -1;
  }
  return *this;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) stop(std::chrono::seconds(5));
}

Result<ChildProcess> ChildProcess::spawn(const std::vector<std::string>& argv,
                                         const std::string& log_path) {
  if (argv.empty()) return InvalidArgument("spawn: empty argv");
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int log_fd = -1;
  if (!log_path.empty()) {
    log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) return Unavailable("spawn: cannot open " + log_path + ": " + std::strerror(errno));
  }
  // A pipe with close-on-exec tells the parent whether exec worked: it closes empty on success
  // and carries errno on failure.
  int status_pipe[2];
  if (::pipe2(status_pipe, O_CLOEXEC) != 0) {
    if (log_fd >= 0) ::close(log_fd);
    return Unavailable(std::string("spawn: pipe: ") + std::strerror(errno));
  }
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid == 0) {
    // In the child only async-signal-safe calls until exec. The child gets SIGTERM if its parent
    // dies (a crashed test or demo), so no worker outlives whoever started it.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(127);
    if (log_fd >= 0) {
      ::dup2(log_fd, 1);
      ::dup2(log_fd, 2);
    }
    ::execv(args[0], args.data());
    int err = errno;
    ssize_t w = ::write(status_pipe[1], &err, sizeof err);
    (void)w;
    ::_exit(127);
  }
  ::close(status_pipe[1]);
  if (log_fd >= 0) ::close(log_fd);
  if (pid < 0) {
    ::close(status_pipe[0]);
    return Unavailable(std::string("spawn: fork: ") + std::strerror(errno));
  }
  int err = 0;
  ssize_t n;
  do {
    n = ::read(status_pipe[0], &err, sizeof err);
  } while (n < 0 && errno == EINTR);
  ::close(status_pipe[0]);
  ChildProcess c;
  c.pid_ = pid;
  if (n == static_cast<ssize_t>(sizeof err)) {
    c.kill_now();
    return Unavailable("spawn " + argv[0] + ": " + std::strerror(err));
  }
  return c;
}

bool ChildProcess::running() {
  if (pid_ <= 0) return false;
  int st = 0;
  pid_t r;
  do {
    r = waitpid(pid_, &st, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == 0) return true;
  if (r < 0 && errno != ECHILD) return true;  // cannot tell: assume it still runs
  if (r == pid_) status_ = st;
  pid_ = -1;
  return false;
}

static int decode_status(int st) {
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
  return -1;
}

int ChildProcess::wait(Duration timeout) {
  auto deadline = SteadyClock::now() + timeout;
  while (running()) {
    if (SteadyClock::now() >= deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return decode_status(status_);
}

int ChildProcess::stop(Duration grace, int sig) {
  if (running()) ::kill(pid_, sig);
  int rc = wait(grace);
  if (rc == -1 && pid_ > 0) {
    kill_now();
    return decode_status(status_);
  }
  return rc;
}

void ChildProcess::kill_now() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int st = 0;
  if (waitpid(pid_, &st, 0) == pid_) status_ = st;
  pid_ = -1;
}

Result<int> wait_for_port_file(const std::string& path, Duration timeout) {
  auto deadline = SteadyClock::now() + timeout;
  while (SteadyClock::now() < deadline) {
    std::ifstream in(path);
    int port = 0;
    if (in >> port && port > 0 && port < 65536) return port;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return DeadlineExceeded("no port written to " + path);
}

std::string executable_dir() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return ".";
  std::string p(buf, static_cast<size_t>(n));
  auto slash = p.rfind('/');
  return slash == std::string::npos ? "." : p.substr(0, slash);
}

long resident_kb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return 0;
}

}  // namespace hir
