// Fuzzes the latency table reader (load_table): cpu tables and mpc tables (costs, link, calibration).
// InputError is the expected rejection of bad bytes; anything else escaping (another exception,
// a sanitizer report, a crash) stops the fuzzer and is a bug.
#include "profile/latency_table.h"

#include "core/error.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    vitnas::load_table(vitnas_fuzz::write_input(data, size, "table.json"));
  } catch (const vitnas::InputError&) {
  }
  return 0;
}
