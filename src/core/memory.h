// What a network needs in memory, estimated from its ArchSpec before anything is allocated, and
// the check that refuses a run the machine cannot hold (--batch 1e9, --res 100000, a spec of
// billions of parameters) with a one-line error instead of std::bad_alloc or the OOM killer.
#pragma once

#include <cstdint>
#include <string>

#include "core/arch_spec.h"

namespace vitnas {

enum class Workload { Weights, Inference, Training };

// The bytes `spec` needs on `batch` float32 images: the weights (training: also their gradients
// and AdamW's two moments), plus for inference the largest single part's activations (they are
// freed as the forward pass goes), for training the sum over parts (autograd keeps them until
// backward), each times a factor measured on real runs (memory.cpp). A run's peak RSS growth
// stays within it (0.54-1.03x on networks the factors were not fitted on), so a run the check
// accepts does not allocate much more than the machine has; one that would fit by up to ~1.9x
// can be refused.
int64_t estimate_bytes(const ArchSpec& spec, int64_t batch, Workload workload);

// MemAvailable of /proc/meminfo (what can be allocated without swapping); -1 if unknown.
int64_t available_memory_bytes();

// InputError naming `what` (e.g. "--batch 1000000 of m0 at 224x224") when the estimate exceeds
// the available memory. No-op where the available memory is unknown.
void require_memory(const ArchSpec& spec, int64_t batch, Workload workload,
                    const std::string& what);

// The same for a known number of bytes (data held in memory plus a network's estimate): InputError
// "<what> needs about X of memory (<why>); this machine has Y available: <fix>".
void require_memory_bytes(int64_t bytes, const std::string& what, const std::string& why,
                          const std::string& fix);

std::string format_bytes(double bytes);  // "1.5 GB", "320 MB"

}  // namespace vitnas
