// Fuzzes the CIFAR binary batch reader (open_cifar). The first byte picks CIFAR-10 or -100 (and
// so the record size and label range); the rest is the test batch file.
// InputError is the expected rejection of bad bytes; anything else escaping (another exception,
// a sanitizer report, a crash) stops the fuzzer and is a bug.
#include "data/cifar.h"

#include "core/error.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const int classes = data[0] & 1 ? 100 : 10;
  vitnas_fuzz::write_file(data + 1, size - 1, classes == 10 ? "test_batch.bin" : "test.bin");
  try {
    vitnas::data::open_cifar(vitnas_fuzz::temp_dir().string(), classes, /*train=*/false);
  } catch (const vitnas::InputError&) {
  }
  return 0;
}
