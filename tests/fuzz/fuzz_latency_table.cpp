// Fuzzes the latency table reader as load_table runs it, in memory: cpu and mpc tables.
// InputError is the expected rejection of bad bytes; anything else escaping (another exception,
// a sanitizer report, a crash) stops the fuzzer and is a bug.
#include "profile/latency_table.h"

#include "core/error.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    vitnas::table_from_json(vitnas_fuzz::parse(data, size, "table.json"), "table.json");
  } catch (const vitnas::InputError&) {
  }
  return 0;
}
