// Fuzzes the search space JSON reader as load_space runs it (strict JSON, space_from_json).
// InputError is the expected rejection of bad bytes; anything else escaping (another exception,
// a sanitizer report, a crash) stops the fuzzer and is a bug.
#include "core/search_space.h"

#include "core/error.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    vitnas::space_from_json(vitnas_fuzz::parse(data, size, "space.json"));
  } catch (const vitnas::InputError&) {
  }
  return 0;
}
