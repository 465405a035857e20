// Fuzzes the safetensors reader (header length, JSON header, offsets, data): safetensors::load.
// InputError is the expected rejection of bad bytes; anything else escaping (another exception,
// a sanitizer report, a crash) stops the fuzzer and is a bug.
#include "core/safetensors.h"

#include <sstream>

#include "core/error.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    std::istringstream in(vitnas_fuzz::as_text(data, size));
    vitnas::safetensors::load(in, size, "input.safetensors");
  } catch (const vitnas::InputError&) {
  }
  return 0;
}
