// Fuzzes the safetensors reader (header length, JSON header, offsets, data): safetensors::load.
// InputError is the expected rejection of bad bytes; anything else escaping (another exception,
// a sanitizer report, a crash) stops the fuzzer and is a bug.
#include "core/safetensors.h"

#include "core/error.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    vitnas::safetensors::load(vitnas_fuzz::write_input(data, size, "input.safetensors"));
  } catch (const vitnas::InputError&) {
  }
  return 0;
}
