// Fuzzes the MPC cost table reader (load_cost_table, the --costs file).
// InputError is the expected rejection of bad bytes; anything else escaping (another exception,
// a sanitizer report, a crash) stops the fuzzer and is a bug.
#include "profile/mpc_cost_table.h"

#include "core/error.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    vitnas::load_cost_table(vitnas_fuzz::write_input(data, size, "costs.json"));
  } catch (const vitnas::InputError&) {
  }
  return 0;
}
