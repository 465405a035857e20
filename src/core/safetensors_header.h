// The safetensors header reader behind safetensors::load and read_header (internal): dtypes,
// and a streaming parse of the JSON header that validates each tensor entry as it arrives.
#pragma once

#include <cstdint>
#include <istream>
#include <map>
#include <string>
#include <vector>

#include "core/safetensors.h"

namespace vitnas::safetensors::detail {

struct DType {
  const char* name;
  torch::ScalarType type;
  std::uint64_t itemsize;
};

const DType* find_dtype(const std::string& name);   // nullptr if unknown
const DType* find_dtype(torch::ScalarType type);    // nullptr if unsupported

// One validated header entry: [begin, end) is its byte range within the data area.
struct Entry {
  TensorInfo info;
  const DType* dtype;
  std::uint64_t begin, end;
};

struct ParsedHeader {
  std::vector<Entry> entries;  // sorted by offset, tiling the data area exactly
  std::map<std::string, std::string> metadata;
  std::uint64_t data_start = 0;  // file offset of the data area
};

// Reads the length field and the JSON header of `in` (a file of file_size bytes opened at
// `path`), validates every entry, the layout and the caller's checks. Throws InputError.
ParsedHeader parse_header(const std::string& path, std::istream& in, std::uint64_t file_size,
                          const Checks& checks);

Header public_header(const ParsedHeader& parsed);

}  // namespace vitnas::safetensors::detail
