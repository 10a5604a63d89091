#include "run_tool.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "gate_error.hpp"

namespace moecheck::gate {

namespace {

std::string command_line(const std::vector<std::string>& argv) {
  std::string s;
  for (const std::string& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

}  // namespace

std::string run_tool(const std::vector<std::string>& argv) {
  if (argv.empty()) throw GateError("run_tool: empty command");
  int fds[2];
  if (pipe(fds) != 0) throw GateError("pipe: " + std::string(std::strerror(errno)));
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // Built before fork: the gate runs tools from several threads, and a forked child of a threaded
  // process may only call async-signal-safe functions (no allocation) until it execs.
  const std::string exec_failed = "cannot run " + argv[0] + "\n";
  const pid_t pid = fork();
  if (pid < 0) throw GateError("fork: " + std::string(std::strerror(errno)));
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    execvp(args[0], args.data());
    // Only reached when exec failed; 127 is the shell's "command not found".
    (void)!write(STDERR_FILENO, exec_failed.data(), exec_failed.size());
    _exit(127);
  }
  close(fds[1]);
  std::string out;
  char buf[65536];
  for (;;) {
    const ssize_t n = read(fds[0], buf, sizeof buf);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) {
    throw GateError(command_line(argv) + ": killed by signal " + std::to_string(WTERMSIG(status)));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw GateError(command_line(argv) + ": exited with status " +
                    std::to_string(WEXITSTATUS(status)));
  }
  return out;
}

}  // namespace moecheck::gate
