#include "core/safetensors.h"

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/io.h"
#include "core/safetensors_header.h"

// Tensor bytes are copied verbatim, and the format stores them little-endian.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors IO assumes little-endian");

namespace vitnas::safetensors {

namespace {

constexpr const char* kMetadataKey = "__metadata__";

// Opens path for reading from its start; returns its size.
std::uint64_t open_file(const std::string& path, std::ifstream& in) {
  in.open(path, std::ios::binary | std::ios::ate);
  require(in.good(), path + ": cannot open safetensors file (check the path)");
  const std::streamoff file_size = in.tellg();
  in.seekg(0);
  return static_cast<std::uint64_t>(file_size);
}

}  // namespace

Header read_header(const std::string& path, const Checks& checks) {
  std::ifstream in;
  const std::uint64_t size = open_file(path, in);
  return detail::public_header(detail::parse_header(path, in, size, checks));
}

File load(const std::string& path, const Checks& checks) {
  std::ifstream in;
  const std::uint64_t size = open_file(path, in);
  return load(in, size, path, checks);
}

File load(std::istream& in, std::uint64_t size, const std::string& name, const Checks& checks) {
  detail::ParsedHeader header = detail::parse_header(name, in, size, checks);
  File file;
  file.metadata = std::move(header.metadata);

  // The layout check proved the entries tile the rest of the file in order, so reading them
  // sequentially straight into their tensors reads every byte once and allocates <= file size.
  in.seekg(static_cast<std::streamoff>(header.data_start));
  for (auto& e : header.entries) {
    torch::Tensor t = torch::empty(e.info.shape, torch::TensorOptions().dtype(e.info.dtype));
    const auto nbytes = static_cast<std::streamsize>(e.end - e.begin);
    if (nbytes > 0) {
      in.read(static_cast<char*>(t.data_ptr()), nbytes);
      require(in.gcount() == nbytes,
              name + ": tensor '" + e.info.name + "': file ended early while reading its data");
    }
    if (e.info.dtype == torch::kBool) {  // bytes other than 0/1 are not valid C++ bools
      const auto* p = static_cast<const unsigned char*>(t.data_ptr());
      require(std::all_of(p, p + nbytes, [](unsigned char b) { return b <= 1; }),
              name + ": tensor '" + e.info.name + "': BOOL data holds bytes other than 0 and 1");
    }
    file.tensors.emplace_back(std::move(e.info.name), std::move(t));
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
    const detail::DType* dtype = detail::find_dtype(tensor.scalar_type());
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
