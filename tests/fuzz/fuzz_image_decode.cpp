// Fuzzes the ImageFolder decode path (decode_image: PNG via libpng's simplified API, JPEG via
// libturbojpeg), in memory. The first byte picks 1 or 3 output channels.
// InputError is the expected rejection of bad bytes; anything else escaping (another exception,
// a sanitizer report, a crash) stops the fuzzer and is a bug.
#include "data/image_decode.h"

#include <string>

#include "core/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const int channels = data[0] & 1 ? 1 : 3;
  const std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    vitnas::data::decode_image(bytes, "input", channels);
  } catch (const vitnas::InputError&) {
  }
  return 0;
}
