// Fuzzes the IDX reader (read_idx: magic, dimensions, data; plain or gzip, zlib reads both).
// InputError is the expected rejection of bad bytes; anything else escaping (another exception,
// a sanitizer report, a crash) stops the fuzzer and is a bug.
#include "data/idx.h"

#include "core/error.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    vitnas::data::read_idx(vitnas_fuzz::write_input(data, size, "input-idx.gz"));
  } catch (const vitnas::InputError&) {
  }
  return 0;
}
