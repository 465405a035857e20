// safetensors (https://github.com/huggingface/safetensors) read/write: an 8-byte little-endian
// header length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {...}},
// then the raw little-endian data. Every field is validated before any byte is read.
#pragma once

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

// Throws InputError with a one-line message naming the file (and the key) on: missing file,
// file shorter than 8 bytes, header length larger than the file or than 100 MB, malformed JSON,
// unknown dtype, negative or overflowing shapes, data_offsets that are not [begin, end] inside
// the data area or whose length != numel * itemsize, overlapping or out-of-order tensors, gaps,
// duplicate keys, non-string metadata. Returned tensors are CPU, contiguous and own their memory.
File load(const std::string& path);

// Writes atomically (temp file + rename). Tensors are made contiguous and moved to CPU.
// Supported dtypes: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL. Throws InputError on a duplicate
// name or an unsupported dtype.
void save(const std::string& path, const TensorList& tensors,
          const std::map<std::string, std::string>& metadata = {});

}  // namespace vitnas::safetensors
