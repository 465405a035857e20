// Data-parallel communication: torchrun's environment, the process group at world size 1, and
// real two-process Gloo groups on loopback, started by the local launcher. The worker cases are
// hidden ("[.]"): the visible cases run this test binary again with the worker's tag.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <thread>

#include <torch/torch.h>

#include "core/error.h"
#include "fixtures.h"
#include "train/distributed.h"
#include "train/launch.h"

using namespace vitnas;
using vitnas::test::input_error;

namespace {

// Sets and unsets environment variables for one scope, restoring the previous values after.
class EnvGuard {
 public:
  EnvGuard() {
    for (const char* name : {"RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"})
      save(name);
  }
  ~EnvGuard() {
    for (const auto& [name, value] : saved_) {
      if (value)
        ::setenv(name.c_str(), value->c_str(), 1);
      else
        ::unsetenv(name.c_str());
    }
  }
  EnvGuard& set(const std::string& name, const std::string& value) {
    save(name);
    ::setenv(name.c_str(), value.c_str(), 1);
    return *this;
  }
  EnvGuard& unset(const std::string& name) {
    save(name);
    ::unsetenv(name.c_str());
    return *this;
  }

 private:
  void save(const std::string& name) {
    if (saved_.count(name)) return;
    const char* value = std::getenv(name.c_str());
    saved_[name] = value ? std::optional<std::string>(value) : std::nullopt;
  }
  std::map<std::string, std::optional<std::string>> saved_;
};

// A valid two-process environment to break one variable of.
void set_two_ranks(EnvGuard& env) {
  env.set("WORLD_SIZE", "2").set("RANK", "1").set("LOCAL_RANK", "1");
  env.set("MASTER_ADDR", "127.0.0.1").set("MASTER_PORT", "29511");
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The failing worker's evidence that the launcher ended the waiting rank: a SIGTERM handler
// that creates <dir>/terminated (async-signal-safe calls only) and exits as SIGTERM would.
constexpr const char* kMarkerDir = "VITNAS_TEST_MARKER_DIR";
char g_terminated_path[4096];

extern "C" void on_sigterm(int) {
  const int fd = ::open(g_terminated_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) ::close(fd);
  ::_exit(128 + SIGTERM);
}

std::string marker_dir() {
  const char* dir = std::getenv(kMarkerDir);
  REQUIRE(dir != nullptr);
  return dir;
}

// Installs the handler, then creates <dir>/ready.
void record_sigterm(const std::string& dir) {
  std::snprintf(g_terminated_path, sizeof(g_terminated_path), "%s/terminated", dir.c_str());
  struct sigaction sa {};
  sa.sa_handler = on_sigterm;
  sigemptyset(&sa.sa_mask);
  REQUIRE(::sigaction(SIGTERM, &sa, nullptr) == 0);
  std::ofstream(dir + "/ready") << "ready";
}

// A TCP port nothing listens on (the kernel's pick for port 0, released again).
int unused_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace

TEST_CASE("distributed env: torchrun's variables, single process when WORLD_SIZE is unset",
          "[distributed]") {
  {
    EnvGuard env;
    env.unset("WORLD_SIZE").set("RANK", "garbage").set("MASTER_PORT", "0");  // ignored
    const auto e = distributed_env_from_environment();
    CHECK(e.rank == 0);
    CHECK(e.world_size == 1);
    CHECK(e.local_rank == 0);
    CHECK(e.master_addr == "127.0.0.1");
    CHECK(e.master_port == 29500);
  }
  {
    EnvGuard env;
    set_two_ranks(env);
    env.set("WORLD_SIZE", "4").set("RANK", "3").set("LOCAL_RANK", "1");
    env.set("MASTER_ADDR", "node7").set("MASTER_PORT", "1234");
    const auto e = distributed_env_from_environment();
    CHECK(e.rank == 3);
    CHECK(e.world_size == 4);
    CHECK(e.local_rank == 1);
    CHECK(e.master_addr == "node7");
    CHECK(e.master_port == 1234);
  }
  {  // world size 1 needs no rendezvous address
    EnvGuard env;
    env.set("WORLD_SIZE", "1").unset("RANK").unset("LOCAL_RANK").unset("MASTER_ADDR");
    env.unset("MASTER_PORT");
    const auto e = distributed_env_from_environment();
    CHECK(e.world_size == 1);
    CHECK(e.rank == 0);
  }
}

TEST_CASE("distributed env: each malformed variable is an InputError naming it",
          "[distributed]") {
  struct Case {
    const char* name;
    const char* value;  // nullptr: unset
    const char* named;  // what the message must name
  };
  const Case cases[] = {
      {"WORLD_SIZE", "two", "WORLD_SIZE"},  {"WORLD_SIZE", "0", "WORLD_SIZE"},
      {"WORLD_SIZE", "-3", "WORLD_SIZE"},   {"WORLD_SIZE", "2x", "WORLD_SIZE"},
      {"WORLD_SIZE", " 2", "WORLD_SIZE"},   {"WORLD_SIZE", "99999999999999999999", "WORLD_SIZE"},
      {"RANK", "1.0", "RANK"},              {"RANK", "2", "RANK"},
      {"RANK", "-1", "RANK"},               {"RANK", nullptr, "RANK"},
      {"LOCAL_RANK", "a", "LOCAL_RANK"},    {"LOCAL_RANK", "-1", "LOCAL_RANK"},
      {"MASTER_PORT", "http", "MASTER_PORT"}, {"MASTER_PORT", "0", "MASTER_PORT"},
      {"MASTER_PORT", "65536", "MASTER_PORT"}, {"MASTER_PORT", nullptr, "MASTER_PORT"},
      {"MASTER_ADDR", nullptr, "MASTER_ADDR"},
  };
  for (const auto& c : cases) {
    INFO(c.name << "=" << (c.value ? c.value : "(unset)"));
    EnvGuard env;
    set_two_ranks(env);
    if (c.value)
      env.set(c.name, c.value);
    else
      env.unset(c.name);
    const auto message = input_error([] { distributed_env_from_environment(); });
    CHECK_THAT(message, Catch::Contains(c.named));
    CHECK(message.find('\n') == std::string::npos);
  }
}

TEST_CASE("process group: world size 1 is a no-op", "[distributed]") {
  ProcessGroup pg(DistributedEnv{}, torch::kCPU);
  CHECK(pg.backend() == "none");
  CHECK(pg.rank() == 0);
  CHECK(pg.world_size() == 1);
  CHECK(pg.is_main());
  auto t = torch::arange(6, torch::kFloat32).reshape({2, 3});
  const auto before = t.clone();
  pg.allreduce_sum_(t);
  pg.allreduce_mean_(t);
  pg.broadcast_(t, 0);
  pg.barrier();
  CHECK(torch::equal(t, before));
  // The argument checks run at world size 1 too: a bug shows before a multi-process run.
  auto strided = t.t();
  CHECK_THROWS(pg.allreduce_sum_(strided));
  auto ints = torch::ones({3}, torch::kInt64);
  CHECK_THROWS(pg.allreduce_mean_(ints));
  CHECK_THROWS(pg.broadcast_(t, 1));

  DistributedEnv bad;
  bad.world_size = 2;
  bad.rank = 2;
  CHECK_THAT(input_error([&] { ProcessGroup pg(bad, torch::kCPU); }),
             Catch::Contains("rank 2"));
  if (!ProcessGroup::multi_process_available()) {
    bad.rank = 1;
    CHECK_THAT(input_error([&] { ProcessGroup pg(bad, torch::kCPU); }),
               Catch::Contains("no Gloo"));
  }
}

TEST_CASE("launch: rendezvous variables, first failure's exit code, signals", "[distributed]") {
  // Each child checks its own environment.
  const std::string check_env =
      "test \"$WORLD_SIZE\" = 3 && test \"$LOCAL_RANK\" = \"$RANK\" && "
      "test \"$MASTER_ADDR\" = 127.0.0.1 && test \"$MASTER_PORT\" -ge 1 && "
      "test \"$VITNAS_LAUNCH_TEST\" = inherited";
  EnvGuard env;
  env.set("RANK", "7").set("VITNAS_LAUNCH_TEST", "inherited");  // RANK replaced, not duplicated
  CHECK(launch_local_processes(3, {"/bin/sh", "-c", check_env}) == 0);
  env.unset("VITNAS_LAUNCH_TEST");
  CHECK(launch_local_processes(3, {"/bin/sh", "-c", check_env}) == 1);
  CHECK(launch_local_processes(3, {"/bin/sh", "-c", "exit $((RANK == 1 ? 3 : 0))"}) == 3);

  // Rank 1 dies by a signal while rank 0 would sleep for a minute: rank 0 gets SIGTERM, seen
  // by its trap (a marker file), not by the time the launch took. Rank 1 dies only once rank 0
  // has set its trap (the ready file), so a fast SIGTERM cannot beat the trap.
  const std::string ready = vitnas::test::scratch_path("launch_ready"),
                    terminated = vitnas::test::scratch_path("launch_terminated");
  const std::string script =
      "if [ \"$RANK\" = 1 ]; then while [ ! -f '" + ready + "' ]; do sleep 0.01; done; "
      "kill -KILL $$; fi; trap 'touch \"" + terminated + "\"; kill $s; exit 143' TERM; "
      "touch '" + ready + "'; sleep 60 & s=$!; wait $s";
  CHECK(launch_local_processes(2, {"/bin/sh", "-c", script}) == 128 + 9);
  CHECK(std::filesystem::exists(terminated));

  CHECK_THAT(input_error([] { launch_local_processes(0, {"/bin/true"}); }),
             Catch::Contains("--nproc"));
  CHECK_THAT(input_error([] { launch_local_processes(2, {"/nonexistent/vitnas"}); }),
             Catch::Contains("/nonexistent/vitnas"));
  CHECK(current_executable().find("vitnas_tests") != std::string::npos);
}

// ---- two real processes ------------------------------------------------------------------

TEST_CASE("distributed worker: collectives across the ranks", "[.][distributed_worker]") {
  const auto env = distributed_env_from_environment();
  ProcessGroup pg(env, torch::kCPU, std::chrono::seconds(30));
  const int64_t r = pg.rank(), w = pg.world_size();
  REQUIRE(pg.backend() == (w > 1 ? "gloo" : "none"));
  REQUIRE(pg.is_main() == (r == 0));

  // Rank r holds i + 10 r: the sum is w i + 10 w (w - 1) / 2.
  auto a = torch::arange(5, torch::kFloat32) + 10.0 * r;
  pg.allreduce_sum_(a);
  REQUIRE(torch::equal(a, torch::arange(5, torch::kFloat32) * w + 10.0 * w * (w - 1) / 2));

  // Gradient averaging on a leaf that requires grad, and a large int64 sum.
  auto g = torch::full({3, 4}, static_cast<double>(r + 1), torch::requires_grad());
  pg.allreduce_mean_(g);
  REQUIRE(torch::allclose(g.detach(), torch::full({3, 4}, (w + 1) / 2.0)));
  auto big = torch::full({1 << 20}, r + 1, torch::kInt64);
  pg.allreduce_sum_(big);
  REQUIRE(big.eq(w * (w + 1) / 2).all().item<bool>());

  for (int64_t root = 0; root < w; ++root) {
    auto b = torch::full({2, 3}, static_cast<float>(r));
    pg.broadcast_(b, root);
    REQUIRE(torch::equal(b, torch::full({2, 3}, static_cast<float>(root))));
  }
  pg.barrier();
}

// Rank 1 exits non-zero before joining (once rank 0 is ready to record SIGTERM); rank 0 would
// wait for it for a minute.
TEST_CASE("distributed worker: rank 1 fails before joining", "[.][distributed_worker_fails]") {
  const auto env = distributed_env_from_environment();
  const std::string dir = marker_dir();
  if (env.rank == 1) {
    while (!std::filesystem::exists(dir + "/ready"))
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  } else {
    record_sigterm(dir);
  }
  REQUIRE(env.rank != 1);
  ProcessGroup pg(env, torch::kCPU, std::chrono::seconds(60));
}

// Rank 1 exits once the group has formed; rank 0 is left in an allreduce with a dead peer.
TEST_CASE("distributed worker: rank 1 dies during training", "[.][distributed_worker_dies]") {
  const auto env = distributed_env_from_environment();
  ProcessGroup pg(env, torch::kCPU, std::chrono::seconds(600));
  REQUIRE(env.rank != 1);
  auto t = torch::ones({4});
  pg.allreduce_sum_(t);
}

TEST_CASE("process group: two Gloo ranks on loopback", "[distributed]") {
  if (!ProcessGroup::multi_process_available()) {
    WARN("this LibTorch build has no Gloo: two-process test skipped");
    return;
  }
  // A rank left alone: the timeout is an InputError naming the rendezvous address, for the
  // server (rank 0) and for a client with no server.
  DistributedEnv alone;
  alone.world_size = 2;
  alone.master_port = unused_port();
  const std::string endpoint =
      "MASTER_ADDR:MASTER_PORT=127.0.0.1:" + std::to_string(alone.master_port);
  for (const int64_t rank : {0, 1}) {
    INFO("rank " << rank);
    alone.rank = rank;
    const auto message =
        input_error([&] { ProcessGroup pg(alone, torch::kCPU, std::chrono::seconds(1)); });
    CHECK_THAT(message, Catch::Contains(endpoint));
    CHECK(message.find('\n') == std::string::npos);
  }

  // (A hang is bounded by the workers' 30 s timeouts, not by a wall-clock check here.)
  CHECK(launch_local_processes(2, {current_executable(), "[distributed_worker]"}) == 0);

  // A rank that fails makes the launch fail, and the rank left waiting does not hang it. The
  // workers' expected failures go to /dev/null.
  // In the rendezvous (a 60 s timeout), rank 0 is ended by the launcher's SIGTERM: its handler
  // leaves a marker file, which its own timeout would not.
  {
    const std::string dir = vitnas::test::scratch_path("worker_fails");
    std::filesystem::create_directories(dir);
    EnvGuard env;
    env.set(kMarkerDir, dir);
    CHECK(launch_local_processes(
              2, {current_executable(), "[distributed_worker_fails]", "--out", "/dev/null"}) != 0);
    CHECK(std::filesystem::exists(dir + "/terminated"));
  }
  // In an allreduce with a dead peer, Gloo fails on the closed connection (or the launcher's
  // SIGTERM comes first): seconds either way. The bound only guards against waiting out the
  // worker's 600 s timeout, far above anything a loaded machine takes.
  const auto start = std::chrono::steady_clock::now();
  CHECK(launch_local_processes(
            2, {current_executable(), "[distributed_worker_dies]", "--out", "/dev/null"}) != 0);
  CHECK(seconds_since(start) < 120);
}
