// Fuzzes the search-space JSON reader (load_space: JSON parse, space_from_json, validate).
// InputError is the expected rejection of bad bytes; anything else escaping (another exception,
// a sanitizer report, a crash) stops the fuzzer and is a bug.
#include "core/search_space.h"

#include "core/error.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    vitnas::load_space(vitnas_fuzz::write_input(data, size, "space.json"));
  } catch (const vitnas::InputError&) {
  }
  return 0;
}
