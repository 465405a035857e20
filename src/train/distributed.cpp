#include "train/distributed.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <optional>
#include <utility>
#include <vector>

#include <torch/torch.h>

// CMake defines these for this file alone, after checking that the headers compile and the
// symbols link against this LibTorch (see CMakeLists.txt); USE_C10D_* unlock c10d's headers.
#if defined(VITNAS_WITH_GLOO) || defined(VITNAS_WITH_NCCL)
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif
#ifdef VITNAS_WITH_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef VITNAS_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include "core/error.h"

namespace vitnas {

// ---- environment ------------------------------------------------------------------------

namespace {

// Unset and empty read the same: `export WORLD_SIZE=` is how shells clear a variable.
std::optional<std::string> env_text(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

int64_t parse_int(const char* name, const std::string& text) {
  errno = 0;
  char* end = nullptr;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  // strtoll skips leading blanks and stops at the first non-digit: insist on all of it.
  const bool whole = !text.empty() && !std::isspace(static_cast<unsigned char>(text[0])) &&
                     end == text.c_str() + text.size();
  require(whole && errno != ERANGE,
          std::string(name) + "='" + text + "' is not an integer");
  return value;
}

}  // namespace

DistributedEnv distributed_env_from_environment() {
  DistributedEnv env;
  const auto world = env_text("WORLD_SIZE");
  if (!world) return env;
  env.world_size = parse_int("WORLD_SIZE", *world);
  require(env.world_size >= 1,
          "WORLD_SIZE=" + std::to_string(env.world_size) + " must be at least 1");
  const bool multi = env.world_size > 1;
  const std::string why = " (needed when WORLD_SIZE=" + std::to_string(env.world_size) + ")";

  const auto rank = env_text("RANK");
  require(rank || !multi, "RANK is not set" + why);
  if (rank) env.rank = parse_int("RANK", *rank);
  require(env.rank >= 0 && env.rank < env.world_size,
          "RANK=" + std::to_string(env.rank) + " is outside [0, WORLD_SIZE=" +
              std::to_string(env.world_size) + ")");

  if (const auto local = env_text("LOCAL_RANK")) env.local_rank = parse_int("LOCAL_RANK", *local);
  require(env.local_rank >= 0,
          "LOCAL_RANK=" + std::to_string(env.local_rank) + " must not be negative");

  const auto addr = env_text("MASTER_ADDR");
  require(addr || !multi, "MASTER_ADDR is not set" + why);
  if (addr) env.master_addr = *addr;

  const auto port_text = env_text("MASTER_PORT");
  require(port_text || !multi, "MASTER_PORT is not set" + why);
  if (port_text) {
    const int64_t port = parse_int("MASTER_PORT", *port_text);
    require(port >= 1 && port <= 65535,
            "MASTER_PORT=" + std::to_string(port) + " is outside 1..65535");
    env.master_port = static_cast<int>(port);
  }
  return env;
}

// ---- backends ---------------------------------------------------------------------------

// What ProcessGroup needs from a c10d backend. One implementation serves Gloo and NCCL:
// c10d gives both the same collective signatures (1.13: ProcessGroup subclasses; 2.x: Backend
// subclasses), so the concrete class is a template argument and no c10d base type is named.
class ProcessGroup::Impl {
 public:
  virtual ~Impl() = default;
  virtual std::string backend() const = 0;
  virtual void allreduce_sum(torch::Tensor& t) = 0;
  virtual void broadcast(torch::Tensor& t, int64_t root) = 0;
  virtual void barrier() = 0;
};

namespace {

#if defined(VITNAS_WITH_GLOO) || defined(VITNAS_WITH_NCCL)

std::string endpoint(const DistributedEnv& env) {
  return env.master_addr + ":" + std::to_string(env.master_port);
}

// c10::Error's what() carries a multi-line C++ backtrace; errors here are one line.
std::string first_line(const std::exception& e) {
  const auto* c10_error = dynamic_cast<const c10::Error*>(&e);
  std::string text = c10_error ? c10_error->what_without_backtrace() : e.what();
  const auto newline = text.find('\n');
  return newline == std::string::npos ? text : text.substr(0, newline);
}

[[noreturn]] void rendezvous_failed(const DistributedEnv& env, std::chrono::seconds timeout,
                                    const std::exception& e) {
  throw InputError("rank " + std::to_string(env.rank) + " of " + std::to_string(env.world_size) +
                   ": rendezvous at MASTER_ADDR:MASTER_PORT=" + endpoint(env) +
                   " failed (timeout " + std::to_string(timeout.count()) + " s; are all " +
                   std::to_string(env.world_size) +
                   " ranks started, with the same address and port?): " + first_line(e));
}

// Rank 0 serves the store; every rank (rank 0 included) connects as a client, retrying until
// the server is up. With wait_workers, rank 0's constructor also waits for all world_size
// clients (in 1.13 it gives up silently after about twice the timeout, in 2.x it throws).
c10::intrusive_ptr<c10d::Store> connect_store(const DistributedEnv& env,
                                              std::chrono::seconds timeout, bool wait_workers) {
  c10d::TCPStoreOptions opts;
  opts.port = static_cast<std::uint16_t>(env.master_port);
  opts.isServer = env.rank == 0;
  opts.numWorkers = static_cast<std::size_t>(env.world_size);
  opts.waitWorkers = wait_workers;
  opts.timeout = timeout;
  try {
    return c10::make_intrusive<c10d::TCPStore>(env.master_addr, opts);
  } catch (const std::exception& e) {
    rendezvous_failed(env, timeout, e);
  }
}

template <class Backend>
class C10dImpl final : public ProcessGroup::Impl {
 public:
  C10dImpl(c10::intrusive_ptr<Backend> pg, std::string name,
           c10d::BarrierOptions barrier_opts = {})
      : pg_(std::move(pg)), name_(std::move(name)), barrier_opts_(std::move(barrier_opts)) {}

  std::string backend() const override { return name_; }

  // The tensor lives in `tensors` as another handle on the same storage: c10d writes the
  // result into that storage. wait() rethrows a failure (timeout, a peer that went away).
  void allreduce_sum(torch::Tensor& t) override {
    std::vector<at::Tensor> tensors{t};
    pg_->allreduce(tensors)->wait();  // AllreduceOptions' default op is SUM
  }

  void broadcast(torch::Tensor& t, int64_t root) override {
    std::vector<at::Tensor> tensors{t};
    c10d::BroadcastOptions opts;
    opts.rootRank = root;
    pg_->broadcast(tensors, opts)->wait();
  }

  void barrier() override { pg_->barrier(barrier_opts_)->wait(); }

 private:
  c10::intrusive_ptr<Backend> pg_;
  std::string name_;
  c10d::BarrierOptions barrier_opts_;
};

#endif  // VITNAS_WITH_GLOO || VITNAS_WITH_NCCL

#ifdef VITNAS_WITH_GLOO

bool is_loopback(const std::string& addr) {
  return addr.rfind("127.", 0) == 0 || addr == "localhost" || addr == "::1";
}

// The interfaces Gloo's pairs talk over. GLOO_SOCKET_IFNAME (comma-separated, as torch reads
// it) names them; on loopback a single-machine run must not depend on the hostname resolving;
// otherwise the address this machine's hostname resolves to.
std::vector<std::shared_ptr<::gloo::transport::Device>> gloo_devices(const DistributedEnv& env) {
  using c10d::ProcessGroupGloo;
  std::vector<std::shared_ptr<::gloo::transport::Device>> devices;
  const auto names = env_text("GLOO_SOCKET_IFNAME");
  const std::string source = names ? "GLOO_SOCKET_IFNAME='" + *names + "'"
                             : is_loopback(env.master_addr) ? "loopback address 127.0.0.1"
                                                            : "this machine's hostname";
  try {
    if (names) {
      std::size_t start = 0;
      while (start <= names->size()) {
        const std::size_t comma = std::min(names->find(',', start), names->size());
        const std::string name = names->substr(start, comma - start);
        if (!name.empty()) devices.push_back(ProcessGroupGloo::createDeviceForInterface(name));
        start = comma + 1;
      }
    } else if (is_loopback(env.master_addr)) {
      devices.push_back(ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    } else {
      devices.push_back(ProcessGroupGloo::createDefaultDevice());
    }
  } catch (const std::exception& e) {
    throw InputError("Gloo cannot open a network device for " + source + ": " + first_line(e));
  }
  require(!devices.empty(), source + " names no interface");
  return devices;
}

std::unique_ptr<ProcessGroup::Impl> make_gloo(const DistributedEnv& env,
                                              std::chrono::seconds timeout) {
  auto devices = gloo_devices(env);
  // No store-level wait: Gloo's full-mesh connect below waits for every rank, under the timeout.
  auto store = connect_store(env, timeout, /*wait_workers=*/false);
  try {
    auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
    opts->devices = std::move(devices);
    // The constructor connects a full mesh through the store: it returns once all ranks have.
    auto pg = c10::make_intrusive<c10d::ProcessGroupGloo>(
        store, static_cast<int>(env.rank), static_cast<int>(env.world_size), opts);
    return std::make_unique<C10dImpl<c10d::ProcessGroupGloo>>(std::move(pg), "gloo");
  } catch (const std::exception& e) {
    rendezvous_failed(env, timeout, e);
  }
}

#endif  // VITNAS_WITH_GLOO

#ifdef VITNAS_WITH_NCCL

// Untested here (no CUDA): mirrors make_gloo.
std::unique_ptr<ProcessGroup::Impl> make_nccl(const DistributedEnv& env, torch::Device device,
                                              std::chrono::seconds timeout) {
  // NCCL connects lazily, at the first collective: the store's wait is what waits for all.
  auto store = connect_store(env, timeout, /*wait_workers=*/true);
  try {
    auto opts = c10d::ProcessGroupNCCL::Options::create();
    opts->timeout = timeout;
    auto pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(
        store, static_cast<int>(env.rank), static_cast<int>(env.world_size), opts);
    // NCCL's barrier is an allreduce on a device of its own guessing unless told which.
    c10d::BarrierOptions barrier_opts;
    if (device.has_index()) barrier_opts.device_ids = {device.index()};
    return std::make_unique<C10dImpl<c10d::ProcessGroupNCCL>>(std::move(pg), "nccl",
                                                              std::move(barrier_opts));
  } catch (const std::exception& e) {
    rendezvous_failed(env, timeout, e);
  }
}

#endif  // VITNAS_WITH_NCCL

std::unique_ptr<ProcessGroup::Impl> make_backend(const DistributedEnv& env, torch::Device device,
                                                 std::chrono::seconds timeout) {
  require(device.is_cpu() || device.is_cuda(),
          "distributed training runs on cpu or cuda, not " + device.str());
#ifdef VITNAS_WITH_NCCL
  if (device.is_cuda()) return make_nccl(env, device, timeout);
#endif
#ifdef VITNAS_WITH_GLOO
  return make_gloo(env, timeout);  // Gloo also reduces CUDA tensors, through the host
#else
  throw InputError("WORLD_SIZE=" + std::to_string(env.world_size) +
                   ": this LibTorch build has no Gloo; rebuild with libgloo-dev installed "
                   "(scripts/setup.sh) against a LibTorch built with distributed support, or "
                   "run with one process");
#endif
}

void check_tensor(const torch::Tensor& t, const char* op) {
  TORCH_CHECK(t.defined(), "ProcessGroup::", op, ": undefined tensor");
  TORCH_CHECK(t.layout() == torch::kStrided && t.is_contiguous(), "ProcessGroup::", op,
              ": the tensor must be dense and contiguous (got sizes ", t.sizes(), ", strides ",
              t.strides(), ")");
}

}  // namespace

// ---- ProcessGroup -----------------------------------------------------------------------

ProcessGroup::ProcessGroup(const DistributedEnv& env, torch::Device device,
                           std::chrono::seconds timeout)
    : rank_(env.rank), world_size_(env.world_size) {
  require(env.world_size >= 1 && env.rank >= 0 && env.rank < env.world_size,
          "ProcessGroup: rank " + std::to_string(env.rank) + " is outside [0, world size " +
              std::to_string(env.world_size) + ")");
  require(timeout.count() > 0, "ProcessGroup: the timeout must be positive");
  if (world_size_ > 1) impl_ = make_backend(env, device, timeout);
}

// Out of line: Impl is complete only here.
ProcessGroup::~ProcessGroup() = default;

std::string ProcessGroup::backend() const { return impl_ ? impl_->backend() : "none"; }

bool ProcessGroup::multi_process_available() {
#ifdef VITNAS_WITH_GLOO
  return true;
#else
  return false;
#endif
}

// The checks run at world size 1 too, so a single-process run catches what a multi-process
// run would reject.
void ProcessGroup::allreduce_sum_(torch::Tensor& t) {
  check_tensor(t, "allreduce_sum_");
  torch::NoGradGuard no_grad;
  if (impl_) impl_->allreduce_sum(t);
}

void ProcessGroup::allreduce_mean_(torch::Tensor& t) {
  check_tensor(t, "allreduce_mean_");
  TORCH_CHECK(t.is_floating_point() || t.is_complex(),
              "ProcessGroup::allreduce_mean_: needs a floating tensor, got ", t.scalar_type());
  torch::NoGradGuard no_grad;  // gradients may be leaves that require grad; div_ is in place
  if (!impl_) return;
  impl_->allreduce_sum(t);
  t.div_(static_cast<double>(world_size_));
}

void ProcessGroup::broadcast_(torch::Tensor& t, int64_t root) {
  check_tensor(t, "broadcast_");
  TORCH_CHECK(root >= 0 && root < world_size_, "ProcessGroup::broadcast_: root ", root,
              " is outside [0, ", world_size_, ")");
  torch::NoGradGuard no_grad;
  if (impl_) impl_->broadcast(t, root);
}

void ProcessGroup::barrier() {
  if (impl_) impl_->barrier();
}

}  // namespace vitnas
