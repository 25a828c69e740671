// Child processes for the demo and the integration tests: spawn, signal, wait. The destructor
// stops a child that is still running, so a failing test or a Ctrl-C never leaves one behind.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "core/status.h"
#include "core/time.h"

namespace hir {

class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(ChildProcess&& o) noexcept;
  ChildProcess& operator=(ChildProcess&& o) noexcept;
  ~ChildProcess();

  // Starts argv[0] (a path) with argv. stdout and stderr go to log_path (appended) when given,
  // else they are inherited.
  static Result<ChildProcess> spawn(const std::vector<std::string>& argv,
                                    const std::string& log_path = "");

  pid_t pid() const { return pid_; }
  bool running();
  // Sends sig (default SIGTERM) and waits up to `grace` for the exit; then SIGKILL.
  // Returns the exit status as waitpid reports it decoded: the code, or 128+signal.
  int stop(Duration grace, int sig = 15);
  // Waits for the exit (at most `timeout`); -1 if it is still running.
  int wait(Duration timeout);
  void kill_now();  // SIGKILL and reap

 private:
  pid_t pid_ = -1;
  int status_ = -1;
};

// Waits until `path` holds a port number (written by --port-file) or the timeout passes.
Result<int> wait_for_port_file(const std::string& path, Duration timeout);

// The directory holding the running executable (to find sibling binaries such as hir-worker).
std::string executable_dir();

// This process's resident set size in kB (VmRSS of /proc/self/status); 0 when it cannot be read.
long resident_kb();

}  // namespace hir
