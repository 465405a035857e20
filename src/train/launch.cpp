#include "train/launch.h"

#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <chrono>
#include <cstring>
#include <initializer_list>
#include <system_error>

#include "core/error.h"

extern char** environ;

namespace vitnas {

namespace {

constexpr const char* kRendezvousVars[] = {"RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR",
                                           "MASTER_PORT", "VITNAS_LAUNCHER_PID"};
constexpr int kForwarded[] = {SIGINT, SIGTERM, SIGHUP};
// As torchrun: a child that ignores SIGTERM this long after a failure is killed.
constexpr std::chrono::seconds kTermGrace(30);

[[noreturn]] void throw_os_error(int err, const std::string& what) {
  throw std::system_error(err, std::generic_category(), what);
}

// Binding port 0 lets the kernel pick an unused port. It is free again once closed, until
// rank 0's TCPStore binds it; another program could take it in between (torchrun's race too).
int free_tcp_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw_os_error(errno, "launch: socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);  // where the TCPStore server will listen
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const int err = errno;
    ::close(fd);
    throw_os_error(err, "launch: finding a free TCP port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

// This process's environment with the rendezvous variables replaced.
std::vector<std::string> child_environment(int rank, int nproc, int port) {
  std::vector<std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string text(*entry);
    const std::string name = text.substr(0, text.find('='));
    if (std::find(std::begin(kRendezvousVars), std::end(kRendezvousVars), name) ==
        std::end(kRendezvousVars))
      env.push_back(text);
  }
  env.push_back("RANK=" + std::to_string(rank));
  env.push_back("LOCAL_RANK=" + std::to_string(rank));
  env.push_back("WORLD_SIZE=" + std::to_string(nproc));
  env.push_back("MASTER_ADDR=127.0.0.1");
  env.push_back("MASTER_PORT=" + std::to_string(port));
  env.push_back("VITNAS_LAUNCHER_PID=" + std::to_string(::getpid()));
  return env;
}

// The NULL-terminated char* array exec wants; points into `strings`.
std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Blocks signals in this thread for the launcher's lifetime, so that sigtimedwait can both
// sleep until a child changes state (SIGCHLD) and pick up SIGINT/SIGTERM/SIGHUP to pass on,
// without a signal handler. Children get the caller's mask back (see spawn).
class BlockedSignals {
 public:
  explicit BlockedSignals(std::initializer_list<int> signals) {
    sigemptyset(&set_);
    for (const int s : signals) sigaddset(&set_, s);
    pthread_sigmask(SIG_BLOCK, &set_, &previous_);
  }
  ~BlockedSignals() { pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }
  BlockedSignals(const BlockedSignals&) = delete;
  BlockedSignals& operator=(const BlockedSignals&) = delete;

  const sigset_t& set() const { return set_; }
  const sigset_t& previous() const { return previous_; }

 private:
  sigset_t set_, previous_;
};

// posix_spawn (vfork + exec in glibc): the child starts with the caller's signal mask and
// the default action for the signals the launcher handles. Returns 0 or an errno value.
int spawn(pid_t& pid, std::vector<std::string> argv, std::vector<std::string> env,
          const sigset_t& child_mask) {
  sigset_t defaults;
  sigemptyset(&defaults);
  for (const int s : kForwarded) sigaddset(&defaults, s);
  sigaddset(&defaults, SIGCHLD);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setsigmask(&attr, &child_mask);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  auto args = c_strings(argv);
  auto envp = c_strings(env);
  const int err = posix_spawn(&pid, args[0], nullptr, &attr, args.data(), envp.data());
  posix_spawnattr_destroy(&attr);
  return err;
}

int exit_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

// Polls every child without blocking (waitpid on our pids only: the caller may have other
// children), sleeping in sigtimedwait in between.
int wait_all(const std::vector<pid_t>& pids, const sigset_t& watched) {
  using Clock = std::chrono::steady_clock;
  std::vector<bool> running(pids.size(), true);
  std::size_t left = pids.size();
  int result = 0;
  bool stopping = false;
  auto kill_at = Clock::time_point::max();
  const auto signal_running = [&](int sig) {
    for (std::size_t i = 0; i < pids.size(); ++i)
      if (running[i]) ::kill(pids[i], sig);
  };
  // The first failure decides the exit code; the rest are its consequences.
  const auto stop = [&](int code, int sig) {
    if (!stopping) {
      stopping = true;
      result = code;
      kill_at = Clock::now() + kTermGrace;
    }
    signal_running(sig);
  };

  while (true) {
    for (std::size_t i = 0; i < pids.size(); ++i) {
      if (!running[i]) continue;
      int status = 0;
      const pid_t r = ::waitpid(pids[i], &status, WNOHANG);
      if (r == 0 || (r < 0 && errno == EINTR)) continue;
      running[i] = false;
      --left;
      const int code = r < 0 ? 1 : exit_code(status);  // r < 0: reaped elsewhere, status lost
      if (code != 0 && !stopping) stop(code, SIGTERM);
    }
    if (left == 0) return result;
    if (Clock::now() >= kill_at) {
      signal_running(SIGKILL);
      kill_at = Clock::time_point::max();
    }
    const timespec tick{0, 50 * 1000 * 1000};  // also bounds the wait if SIGCHLD went elsewhere
    const int sig = sigtimedwait(&watched, nullptr, &tick);
    if (std::find(std::begin(kForwarded), std::end(kForwarded), sig) != std::end(kForwarded))
      stop(128 + sig, sig);
  }
}

}  // namespace

int launch_local_processes(int nproc, const std::vector<std::string>& argv) {
  require(nproc >= 1, "--nproc must be at least 1, got " + std::to_string(nproc));
  require(!argv.empty() && !argv[0].empty(), "launch: no program to run");
  const int port = free_tcp_port();
  const BlockedSignals blocked({SIGCHLD, SIGINT, SIGTERM, SIGHUP});

  std::vector<pid_t> pids;
  for (int rank = 0; rank < nproc; ++rank) {
    pid_t pid = 0;
    const int err = spawn(pid, argv, child_environment(rank, nproc, port), blocked.previous());
    if (err != 0) {
      for (const pid_t p : pids) ::kill(p, SIGKILL);  // they would wait for the missing rank
      for (const pid_t p : pids) ::waitpid(p, nullptr, 0);
      throw InputError("launch: cannot run '" + argv[0] + "': " + std::strerror(err));
    }
    pids.push_back(pid);
  }
  return wait_all(pids, blocked.set());
}

void die_with_launcher() {
  const char* launcher = std::getenv("VITNAS_LAUNCHER_PID");
  if (launcher == nullptr) return;
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  // The launcher may have died before prctl: then this process was re-parented already.
  if (std::to_string(::getppid()) != launcher) std::_Exit(128 + SIGKILL);
}

std::string current_executable() {
  std::vector<char> buf(256);
  while (true) {
    const ssize_t n = ::readlink("/proc/self/exe", buf.data(), buf.size());
    if (n < 0) throw_os_error(errno, "readlink /proc/self/exe");
    if (static_cast<std::size_t>(n) < buf.size()) return std::string(buf.data(), n);
    buf.resize(buf.size() * 2);  // possibly truncated: try again with room to spare
  }
}

}  // namespace vitnas
