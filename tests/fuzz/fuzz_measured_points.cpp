// Fuzzes the MPC measured-points reader as load_measurements runs it, in memory ("arch" may
// also name a preset or a file).
// InputError is the expected rejection of bad bytes; anything else escaping (another exception,
// a sanitizer report, a crash) stops the fuzzer and is a bug.
#include "profile/measured_points.h"

#include "core/error.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    // Arch files named in the points resolve from the (empty) temp folder; presets load.
    vitnas::measurements_from_json(vitnas_fuzz::parse(data, size, "points.json"),
                                   (vitnas_fuzz::temp_dir() / "points.json").string());
  } catch (const vitnas::InputError&) {
  }
  return 0;
}
