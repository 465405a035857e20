#include "core/safetensors.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/io.h"

// Tensor bytes are copied verbatim, and the format stores them little-endian.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors IO assumes little-endian");

namespace vitnas::safetensors {
namespace {

using json = nlohmann::json;

constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;  // the reference implementation's limit
constexpr const char* kMetadataKey = "__metadata__";

struct DType {
  const char* name;
  torch::ScalarType type;
  std::uint64_t itemsize;
};

constexpr std::array<DType, 10> kDTypes{{
    {"F64", torch::kFloat64, 8}, {"F32", torch::kFloat32, 4}, {"F16", torch::kFloat16, 2},
    {"BF16", torch::kBFloat16, 2}, {"I64", torch::kInt64, 8}, {"I32", torch::kInt32, 4},
    {"I16", torch::kInt16, 2}, {"I8", torch::kInt8, 1}, {"U8", torch::kUInt8, 1},
    {"BOOL", torch::kBool, 1},
}};

const DType* find_dtype(const std::string& name) {
  for (const auto& d : kDTypes)
    if (name == d.name) return &d;
  return nullptr;
}

const DType* find_dtype(torch::ScalarType type) {
  for (const auto& d : kDTypes)
    if (type == d.type) return &d;
  return nullptr;
}

// One validated header entry; nothing is allocated until every entry has passed.
struct Entry {
  std::string name;
  const DType* dtype;
  std::vector<std::int64_t> shape;
  std::uint64_t begin, end;
};

// Parses the header, rejecting duplicate top-level keys (nlohmann would silently keep the last).
json parse_header(const std::string& path, const std::string& text) {
  std::set<std::string> seen;
  std::string duplicate;
  auto on_event = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::key && depth == 1) {
      const auto& key = parsed.get_ref<const std::string&>();
      if (!seen.insert(key).second && duplicate.empty()) duplicate = key;
    }
    return true;
  };
  json header;
  try {
    header = json::parse(text, on_event);
  } catch (const json::exception& e) {
    throw InputError(path + ": malformed JSON header (" + e.what() + ")");
  }
  require(duplicate.empty(), path + ": duplicate tensor key '" + duplicate + "' in header");
  require(header.is_object(), path + ": JSON header is not an object");
  return header;
}

std::map<std::string, std::string> parse_metadata(const std::string& path, const json& meta) {
  require(meta.is_object(), path + ": \"__metadata__\" is not an object");
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : meta.items()) {
    require(value.is_string(),
            path + ": \"__metadata__\" value for '" + key + "' is not a string");
    out[key] = value.get<std::string>();
  }
  return out;
}

Entry parse_entry(const std::string& path, const std::string& name, const json& j,
                  std::uint64_t data_size) {
  const std::string where = path + ": tensor '" + name + "': ";
  require(j.is_object(), where + "header entry is not an object");

  require(j.contains("dtype") && j["dtype"].is_string(), where + "missing or non-string dtype");
  const auto dtype_name = j["dtype"].get<std::string>();
  const DType* dtype = find_dtype(dtype_name);
  require(dtype != nullptr, where + "unknown or unsupported dtype '" + dtype_name + "'");

  // numel * itemsize must fit in int64 (torch's index type); checked per factor, no overflow.
  require(j.contains("shape") && j["shape"].is_array(), where + "missing or non-array shape");
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  std::vector<std::int64_t> shape;
  std::uint64_t nbytes = dtype->itemsize;
  for (const auto& d : j["shape"]) {
    require(d.is_number_integer(), where + "shape entry " + d.dump() + " is not an integer");
    require(d.is_number_unsigned() || d.get<std::int64_t>() >= 0,
            where + "negative shape entry " + d.dump());
    const auto dim = d.get<std::uint64_t>();
    require(dim <= kMax && (dim == 0 || nbytes <= kMax / dim),
            where + "shape " + j["shape"].dump() + " is too large (size overflows)");
    nbytes *= dim;
    shape.push_back(static_cast<std::int64_t>(dim));
  }

  const auto& off = j.contains("data_offsets") ? j["data_offsets"] : json();
  require(off.is_array() && off.size() == 2 && off[0].is_number_unsigned() &&
              off[1].is_number_unsigned(),
          where + "data_offsets must be two non-negative integers [begin, end]");
  const auto begin = off[0].get<std::uint64_t>(), end = off[1].get<std::uint64_t>();
  require(begin <= end && end <= data_size,
          where + "data_offsets " + off.dump() + " out of range of the data area (" +
              std::to_string(data_size) + " bytes; file truncated?)");
  require(end - begin == nbytes,
          where + "data_offsets " + off.dump() + " span " + std::to_string(end - begin) +
              " bytes but shape " + j["shape"].dump() + " of " + dtype_name + " needs " +
              std::to_string(nbytes));
  return {name, dtype, std::move(shape), begin, end};
}

// Sorts by offset and checks that the tensors tile [0, data_size) exactly: no overlap, no gap.
void check_layout(const std::string& path, std::vector<Entry>& entries, std::uint64_t data_size) {
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;  // empty tensors first
  });
  std::uint64_t cursor = 0;
  const Entry* prev = nullptr;
  for (const auto& e : entries) {
    require(e.begin >= cursor, path + ": tensor '" + e.name + "' overlaps tensor '" +
                                   (prev ? prev->name : "") + "' (bytes " +
                                   std::to_string(e.begin) + ".." + std::to_string(cursor) + ")");
    require(e.begin == cursor, path + ": gap in the data area before tensor '" + e.name +
                                   "' (bytes " + std::to_string(cursor) + ".." +
                                   std::to_string(e.begin) + " unused)");
    cursor = e.end;
    prev = &e;
  }
  require(cursor == data_size, path + ": data area has " + std::to_string(data_size - cursor) +
                                   " unused trailing bytes after the last tensor");
}

}  // namespace

File load(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  require(in.good(), path + ": cannot open safetensors file (check the path)");
  const std::streamoff file_size = in.tellg();
  require(file_size >= 8, path + ": file is " + std::to_string(file_size) +
                              " bytes, too short for a safetensors header (needs >= 8)");
  in.seekg(0);

  // The 8-byte length is decoded byte by byte, so it is little-endian on any host.
  unsigned char len_bytes[8];
  in.read(reinterpret_cast<char*>(len_bytes), 8);
  require(in.good(), path + ": read error in the header length");
  std::uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
  const auto rest = static_cast<std::uint64_t>(file_size) - 8;
  require(header_len <= kMaxHeaderBytes, path + ": header length " + std::to_string(header_len) +
                                             " exceeds the 100 MB limit (corrupt file?)");
  require(header_len <= rest, path + ": header length " + std::to_string(header_len) +
                                  " is larger than the file (" + std::to_string(rest) +
                                  " bytes after the length field; truncated?)");

  std::string text(header_len, '\0');
  in.read(text.data(), static_cast<std::streamsize>(header_len));
  require(in.good(), path + ": read error in the JSON header");
  const json header = parse_header(path, text);

  const std::uint64_t data_size = rest - header_len;
  File file;
  std::vector<Entry> entries;
  for (const auto& [name, value] : header.items()) {
    if (name == kMetadataKey)
      file.metadata = parse_metadata(path, value);
    else
      entries.push_back(parse_entry(path, name, value, data_size));
  }
  check_layout(path, entries, data_size);

  // The layout check proved the entries tile the rest of the file in order, so reading them
  // sequentially straight into their tensors reads every byte once and allocates <= file size.
  for (const auto& e : entries) {
    torch::Tensor t = torch::empty(e.shape, torch::TensorOptions().dtype(e.dtype->type));
    const auto nbytes = static_cast<std::streamsize>(e.end - e.begin);
    if (nbytes > 0) {
      in.read(static_cast<char*>(t.data_ptr()), nbytes);
      require(in.gcount() == nbytes,
              path + ": tensor '" + e.name + "': file ended early while reading its data");
    }
    if (e.dtype->type == torch::kBool) {  // bytes other than 0/1 are not valid C++ bools
      const auto* p = static_cast<const unsigned char*>(t.data_ptr());
      require(std::all_of(p, p + nbytes, [](unsigned char b) { return b <= 1; }),
              path + ": tensor '" + e.name + "': BOOL data holds bytes other than 0 and 1");
    }
    file.tensors.emplace_back(e.name, std::move(t));
  }
  return file;
}

void save(const std::string& path, const TensorList& tensors,
          const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header[kMetadataKey] = metadata;

  std::set<std::string> names;
  std::vector<torch::Tensor> data;
  std::uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    const std::string where = path + ": tensor '" + name + "': ";
    require(name != kMetadataKey, where + "name is reserved for metadata");
    require(names.insert(name).second, where + "duplicate tensor name");
    require(tensor.defined(), where + "tensor is undefined");
    const DType* dtype = find_dtype(tensor.scalar_type());
    require(dtype != nullptr, where + "unsupported dtype " +
                                  std::string(c10::toString(tensor.scalar_type())));
    torch::Tensor t = tensor.contiguous().cpu();
    const auto nbytes = static_cast<std::uint64_t>(t.nbytes());
    header[name] = {{"dtype", dtype->name},
                    {"shape", t.sizes().vec()},
                    {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
    data.push_back(std::move(t));
  }

  // Pad with spaces so the data starts 8-byte aligned, as the reference writer does.
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');

  std::string bytes;
  bytes.reserve(8 + text.size() + offset);
  for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<char>((text.size() >> (8 * i)) & 0xff));
  bytes += text;
  for (const auto& t : data)
    if (t.nbytes() > 0) bytes.append(static_cast<const char*>(t.data_ptr()), t.nbytes());
  write_file_atomic(path, bytes);
}

}  // namespace vitnas::safetensors
