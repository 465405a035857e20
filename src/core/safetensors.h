// safetensors (https://github.com/huggingface/safetensors) read/write: an 8-byte little-endian
// header length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {...}},
// then the raw little-endian data. Every field is validated before any byte is read.
#pragma once

#include <cstdint>
#include <functional>
#include <istream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

namespace vitnas::safetensors {

// Ordered name -> tensor list (writers keep the order; readers return header order sorted by
// data offset, which is the order they were written in).
using TensorList = std::vector<std::pair<std::string, torch::Tensor>>;

struct File {
  TensorList tensors;
  std::map<std::string, std::string> metadata;  // the "__metadata__" object (string values)
};

// One header entry: what a reader can check before any tensor byte is read.
struct TensorInfo {
  std::string name;
  torch::ScalarType dtype;
  std::vector<std::int64_t> shape;
};

struct Header {
  std::vector<TensorInfo> tensors;  // in data-offset order
  std::map<std::string, std::string> metadata;
};

// What the caller expects of a file, checked while the header is parsed: `each` sees every
// tensor entry as soon as it has been validated (so a file full of unexpected names fails at the
// first one, whatever the header's size), `all` the complete header. Both run before any tensor
// data is read or allocated, and reject a file by throwing InputError.
struct Checks {
  std::function<void(const TensorInfo&)> each;
  std::function<void(const Header&)> all;
};

// Throws InputError with a one-line message naming the file (and the key) on: missing file,
// file shorter than 8 bytes, header length larger than the file or than 16 MiB (the format
// allows 100 MB), more than 100,000 tensors, malformed JSON, unknown dtype, negative or
// overflowing shapes, data_offsets that are not [begin, end] inside the data area or whose
// length != numel * itemsize, overlapping or out-of-order tensors, gaps, duplicate keys,
// non-string metadata, a tensor entry of more than 1024 JSON values. The header
// is parsed as a stream in time linear in its size; the data is read tensor by tensor straight
// into the returned tensors (CPU, contiguous, owning their memory), never as one whole buffer.
File load(const std::string& path, const Checks& checks = {});
// The same from a stream of `size` bytes positioned at its start (memory, a pipe, part of an
// archive); `name` stands for the file in errors.
File load(std::istream& in, std::uint64_t size, const std::string& name, const Checks& checks = {});

// The validated header alone (the same checks as load, the data is not read).
Header read_header(const std::string& path, const Checks& checks = {});

// Writes atomically (temp file + rename). Tensors are made contiguous and moved to CPU.
// Supported dtypes: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL. Throws InputError on a duplicate
// name or an unsupported dtype.
void save(const std::string& path, const TensorList& tensors,
          const std::map<std::string, std::string>& metadata = {});

}  // namespace vitnas::safetensors
