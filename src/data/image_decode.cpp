#include "data/image_decode.h"

#include <png.h>
#include <turbojpeg.h>

#include <cstring>
#include <memory>

#include <torch/torch.h>

#include "core/error.h"

namespace vitnas::data {
namespace {

constexpr int64_t kMaxPixels = int64_t{1} << 28;  // refuses decompression bombs

bool is_jpeg(const std::string& b) {
  return b.size() >= 3 && static_cast<unsigned char>(b[0]) == 0xFF &&
         static_cast<unsigned char>(b[1]) == 0xD8 && static_cast<unsigned char>(b[2]) == 0xFF;
}

bool is_png(const std::string& b) {
  return b.size() >= 8 && std::memcmp(b.data(), "\x89PNG\r\n\x1a\n", 8) == 0;
}

[[noreturn]] void fail(const std::string& path, const std::string& why) {
  throw InputError(path + ": cannot decode image (" + why + ")");
}

// Any libjpeg warning (e.g. "Premature end of JPEG file", a truncated download) is an error:
// training silently on grey-filled images is worse than being told which file to fix.
torch::Tensor decode_jpeg(const std::string& bytes, const std::string& path, int channels) {
  std::unique_ptr<void, int (*)(tjhandle)> tj(tjInitDecompress(), tjDestroy);
  if (!tj) fail(path, "cannot start libturbojpeg");
  auto* src = reinterpret_cast<const unsigned char*>(bytes.data());
  const auto len = static_cast<unsigned long>(bytes.size());
  int w = 0, h = 0, subsamp = 0, colorspace = 0;
  if (tjDecompressHeader3(tj.get(), src, len, &w, &h, &subsamp, &colorspace) != 0)
    fail(path, tjGetErrorStr2(tj.get()));
  if (w <= 0 || h <= 0 || int64_t{w} * h > kMaxPixels) fail(path, "bad size");
  auto hwc = torch::empty({h, w, channels}, torch::kUInt8);
  if (tjDecompress2(tj.get(), src, len, hwc.data_ptr<uint8_t>(), w, 0, h,
                    channels == 3 ? TJPF_RGB : TJPF_GRAY,
                    TJFLAG_ACCURATEDCT | TJFLAG_STOPONWARNING) != 0)
    fail(path, tjGetErrorStr2(tj.get()));
  return hwc.permute({2, 0, 1}).contiguous();
}

// The simplified API reports errors through image.message instead of longjmp.
torch::Tensor decode_png(const std::string& bytes, const std::string& path, int channels) {
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, bytes.data(), bytes.size()))
    fail(path, image.message);
  struct Free {
    png_image* p;
    ~Free() { png_image_free(p); }
  } guard{&image};
  const int64_t w = image.width, h = image.height;
  if (w <= 0 || h <= 0 || w * h > kMaxPixels) fail(path, "bad size");
  // Deflate expands at most 1032:1 and a pixel takes at least 1 bit: a header claiming more
  // pixels than the file can hold is refused before the image is allocated.
  if (double(w) * double(h) > 8.0 * 1032.0 * double(bytes.size()))
    fail(path, "truncated PNG (" + std::to_string(w) + "x" + std::to_string(h) +
                   " pixels in a " + std::to_string(bytes.size()) + "-byte file)");
  // Transparent pixels are composited onto an explicit black background (deterministic).
  image.format = channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  auto hwc = torch::empty({h, w, channels}, torch::kUInt8);  // every byte is written
  const png_color black{0, 0, 0};
  if (!png_image_finish_read(&image, &black, hwc.data_ptr<uint8_t>(), 0, nullptr))
    fail(path, image.message);
  return hwc.permute({2, 0, 1}).contiguous();
}

}  // namespace

torch::Tensor decode_image(const std::string& bytes, const std::string& path, int channels) {
  TORCH_CHECK(channels == 1 || channels == 3, "decode_image: channels must be 1 or 3");
  if (is_jpeg(bytes)) return decode_jpeg(bytes, path, channels);
  if (is_png(bytes)) return decode_png(bytes, path, channels);
  fail(path, "neither JPEG nor PNG");
}

}  // namespace vitnas::data
