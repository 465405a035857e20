// Fuzzes the ArchSpec JSON reader as load_arch runs it (strict JSON, arch_from_json, validate).
// InputError is the expected rejection of bad bytes; anything else escaping (another exception,
// a sanitizer report, a crash) stops the fuzzer and is a bug.
#include "core/arch_spec.h"

#include "core/error.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    vitnas::arch_from_json(vitnas_fuzz::parse(data, size, "arch.json"));
  } catch (const vitnas::InputError&) {
  }
  return 0;
}
