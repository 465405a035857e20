// Data-parallel communication for the trainer: torchrun's environment contract and a small
// process group over c10d (Gloo for CPU tensors, NCCL for CUDA tensors when compiled in).
// Every rank runs the same program and calls the collectives in the same order.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <torch/types.h>

namespace vitnas {

// torchrun's rendezvous variables.
struct DistributedEnv {
  int64_t rank = 0, world_size = 1, local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
};

// Reads RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT (an empty one counts as unset).
// WORLD_SIZE unset: a single process (the defaults above, the other variables ignored).
// LOCAL_RANK unset: 0.
// InputError, one line naming the variable, on: a non-integer, WORLD_SIZE < 1, RANK outside
// [0, WORLD_SIZE) or unset when WORLD_SIZE > 1, LOCAL_RANK < 0, MASTER_PORT outside 1..65535,
// MASTER_ADDR or MASTER_PORT unset when WORLD_SIZE > 1.
DistributedEnv distributed_env_from_environment();

// A c10d process group, or nothing at world_size 1, where every collective is a no-op.
// Backend: NCCL for a CUDA `device` when compiled with VITNAS_WITH_NCCL, else Gloo (which also
// takes CUDA tensors in a CUDA LibTorch). Rendezvous: a c10d::TCPStore at master_addr:master_port
// with rank 0 as the server. The constructor returns once every rank has joined; `timeout`
// bounds that wait (InputError naming MASTER_ADDR:MASTER_PORT) and, as in torch.distributed's
// init_process_group, each later collective too.
// (So a rank that works alone, e.g. rank 0 saving, must finish within it while the others wait.)
// Collectives take dense contiguous tensors on the group's device kind, run under NoGradGuard,
// and block until done (NCCL: until the current CUDA stream is ordered after them); a peer that
// died surfaces as an exception from the collective.
class ProcessGroup {
 public:
  ProcessGroup(const DistributedEnv& env, torch::Device device,
               std::chrono::seconds timeout = std::chrono::seconds(300));
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int64_t rank() const { return rank_; }
  int64_t world_size() const { return world_size_; }
  bool is_main() const { return rank_ == 0; }
  std::string backend() const;  // "none" | "gloo" | "nccl"

  void allreduce_sum_(torch::Tensor& t);   // in place
  void allreduce_mean_(torch::Tensor& t);  // sum, then / world_size (gradient averaging)
  void broadcast_(torch::Tensor& t, int64_t root = 0);
  void barrier();

  // Whether this build can form groups of more than one process (Gloo compiled in).
  static bool multi_process_available();

  class Impl;  // the c10d backend, defined in distributed.cpp only (keeps c10d headers out)

 private:
  int64_t rank_ = 0, world_size_ = 1;
  std::unique_ptr<Impl> impl_;  // null at world_size 1
};

}  // namespace vitnas
