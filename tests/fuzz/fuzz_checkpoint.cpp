// Fuzzes the checkpoint reader (load_checkpoint: safetensors plus its __metadata__ fields).
// InputError is the expected rejection of bad bytes; anything else escaping (another exception,
// a sanitizer report, a crash) stops the fuzzer and is a bug.
#include "train/checkpoint.h"

#include "core/error.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    vitnas::load_checkpoint(vitnas_fuzz::write_input(data, size, "checkpoint.safetensors"));
  } catch (const vitnas::InputError&) {
  }
  return 0;
}
