// Fuzzes the MPC cost table reader (the --costs file) as load_cost_table runs it, in memory.
// InputError is the expected rejection of bad bytes; anything else escaping (another exception,
// a sanitizer report, a crash) stops the fuzzer and is a bug.
#include "profile/mpc_cost_table.h"

#include "core/error.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    vitnas::cost_table_from_json(vitnas_fuzz::parse(data, size, "costs.json"));
  } catch (const vitnas::InputError&) {
  }
  return 0;
}
