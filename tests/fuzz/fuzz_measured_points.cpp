// Fuzzes the MPC measured-points reader (load_measurements; "arch" may also name a preset or a file).
// InputError is the expected rejection of bad bytes; anything else escaping (another exception,
// a sanitizer report, a crash) stops the fuzzer and is a bug.
#include "profile/measured_points.h"

#include "core/error.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    vitnas::load_measurements(vitnas_fuzz::write_input(data, size, "points.json"));
  } catch (const vitnas::InputError&) {
  }
  return 0;
}
