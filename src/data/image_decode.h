// JPEG (libturbojpeg) and PNG (libpng's simplified API) decoding to a uint8 (C, H, W) tensor.
// The format is told by the file's magic bytes, not its extension (a PNG named .jpg decodes).
#pragma once

#include <string>

#include <torch/types.h>

namespace vitnas::data {

// channels: 3 (RGB; grey images are replicated) or 1 (grey; colour images are converted by the
// decoder). path only names the file in errors: InputError "<path>: cannot decode image (...)"
// for an unknown format, a corrupt or truncated file, or more than 2^28 pixels.
torch::Tensor decode_image(const std::string& bytes, const std::string& path, int channels = 3);

}  // namespace vitnas::data
