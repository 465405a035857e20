#include "core/safetensors_header.h"

#include <algorithm>
#include <array>
#include <deque>
#include <iterator>
#include <limits>
#include <streambuf>
#include <string_view>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace vitnas::safetensors::detail {
namespace {

using json = nlohmann::json;

// The format allows 100 MB headers; vitnas reads at most 16 MiB and 100,000 tensors (an m5
// training checkpoint, with EMA weights and AdamW's moments, holds ~2,500 tensors in a ~250 KB
// header). The caps bound what a hostile header costs before it is rejected: a valid-looking
// 100 MB header of 1.45 M entries took 18 s and 906 MB; the longest string the JSON lexer can
// hold is now 16 MiB.
constexpr std::uint64_t kMaxHeaderBytes = std::uint64_t{16} << 20;
constexpr std::size_t kMaxTensors = 100'000;
constexpr const char* kMetadataKey = "__metadata__";
// A tensor entry is three short fields; more JSON values than this in one entry (a shape array
// of millions of zeros, a huge unknown field) would only cost memory before being rejected.
constexpr std::size_t kMaxEntryValues = 1024;

constexpr std::array<DType, 10> kDTypes{{
    {"F64", torch::kFloat64, 8}, {"F32", torch::kFloat32, 4}, {"F16", torch::kFloat16, 2},
    {"BF16", torch::kBFloat16, 2}, {"I64", torch::kInt64, 8}, {"I32", torch::kInt32, 4},
    {"I16", torch::kInt16, 2}, {"I8", torch::kInt8, 1}, {"U8", torch::kUInt8, 1},
    {"BOOL", torch::kBool, 1},
}};

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

// Error messages are built only on failure: these run once per entry of headers up to 16 MiB.
Entry parse_entry(const std::string& path, const std::string& name, const json& j,
                  std::uint64_t data_size) {
  const auto fail = [&](const std::string& what) {
    throw InputError(path + ": tensor '" + name + "': " + what);
  };
  if (!j.is_object()) fail("header entry is not an object");

  if (!j.contains("dtype") || !j["dtype"].is_string()) fail("missing or non-string dtype");
  const auto& dtype_name = j["dtype"].get_ref<const std::string&>();
  const DType* dtype = find_dtype(dtype_name);
  if (dtype == nullptr) fail("unknown or unsupported dtype '" + dtype_name + "'");

  // numel * itemsize must fit in int64 (torch's index type); checked per factor, no overflow.
  if (!j.contains("shape") || !j["shape"].is_array()) fail("missing or non-array shape");
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  std::vector<std::int64_t> shape;
  std::uint64_t nbytes = dtype->itemsize;
  for (const auto& d : j["shape"]) {
    if (!d.is_number_integer()) fail("shape entry " + d.dump() + " is not an integer");
    if (!d.is_number_unsigned() && d.get<std::int64_t>() < 0)
      fail("negative shape entry " + d.dump());
    const auto dim = d.get<std::uint64_t>();
    if (dim > kMax || (dim != 0 && nbytes > kMax / dim))
      fail("shape " + j["shape"].dump() + " is too large (size overflows)");
    nbytes *= dim;
    shape.push_back(static_cast<std::int64_t>(dim));
  }

  const auto& off = j.contains("data_offsets") ? j["data_offsets"] : json();
  if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
      !off[1].is_number_unsigned())
    fail("data_offsets must be two non-negative integers [begin, end]");
  const auto begin = off[0].get<std::uint64_t>(), end = off[1].get<std::uint64_t>();
  if (begin > end || end > data_size)
    fail("data_offsets " + off.dump() + " out of range of the data area (" +
         std::to_string(data_size) + " bytes; file truncated?)");
  if (end - begin != nbytes)
    fail("data_offsets " + off.dump() + " span " + std::to_string(end - begin) +
         " bytes but shape " + j["shape"].dump() + " of " + dtype_name + " needs " +
         std::to_string(nbytes));
  return {{name, dtype->type, std::move(shape)}, dtype, begin, end};
}

// Sorts by offset and checks that the tensors tile [0, data_size) exactly: no overlap, no gap.
void check_layout(const std::string& path, std::vector<Entry>& entries, std::uint64_t data_size) {
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;  // empty tensors first
  });
  std::uint64_t cursor = 0;
  const Entry* prev = nullptr;
  for (const auto& e : entries) {
    const std::string& name = e.info.name;
    if (e.begin < cursor)
      throw InputError(path + ": tensor '" + name + "' overlaps tensor '" +
                       (prev ? prev->info.name : "") + "' (bytes " + std::to_string(e.begin) +
                       ".." + std::to_string(cursor) + ")");
    if (e.begin != cursor)
      throw InputError(path + ": gap in the data area before tensor '" + name + "' (bytes " +
                       std::to_string(cursor) + ".." + std::to_string(e.begin) + " unused)");
    cursor = e.end;
    prev = &e;
  }
  require(cursor == data_size, path + ": data area has " + std::to_string(data_size - cursor) +
                                   " unused trailing bytes after the last tensor");
}

// The header bytes of the file, read in chunks: the JSON parser cannot run into the data.
class BoundedBuf : public std::streambuf {
 public:
  BoundedBuf(std::istream& in, std::uint64_t size) : in_(in), left_(size) {}

 protected:
  int_type underflow() override {
    if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
    if (left_ == 0) return traits_type::eof();
    in_.read(buf_.data(), static_cast<std::streamsize>(std::min<std::uint64_t>(left_, buf_.size())));
    const std::streamsize got = in_.gcount();
    if (got <= 0) return traits_type::eof();
    left_ -= static_cast<std::uint64_t>(got);
    setg(buf_.data(), buf_.data(), buf_.data() + got);
    return traits_type::to_int_type(*gptr());
  }

 private:
  std::istream& in_;
  std::uint64_t left_;
  std::array<char, 1 << 16> buf_{};
};

// nlohmann SAX handler. A DOM parse with a callback (to catch duplicate keys, which a DOM keeps
// silently) rescans the top-level object after every entry: quadratic, > 100 s for 80,000
// entries. Here each top-level value is built as a small JSON value, validated and dropped as
// soon as it closes, so the time is linear and only the entries themselves are kept.
class HeaderHandler {
 public:
  HeaderHandler(const std::string& path, std::uint64_t data_size, const Checks& checks)
      : path_(path), data_size_(data_size), checks_(checks) {}

  bool null() { return value(json()); }
  bool boolean(bool b) { return value(b); }
  bool number_integer(json::number_integer_t v) { return value(v); }
  bool number_unsigned(json::number_unsigned_t v) { return value(v); }
  bool number_float(json::number_float_t v, const json::string_t&) { return value(v); }
  bool string(json::string_t& s) { return value(std::move(s)); }
  bool binary(json::binary_t& b) { return value(json::binary(std::move(b))); }  // not in JSON text
  bool start_object(std::size_t) { return open(json::object()); }
  bool start_array(std::size_t) { return open(json::array()); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  bool key(json::string_t& k) {
    (open_.empty() ? name_ : key_) = std::move(k);  // a tensor name, or a key inside an entry
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const json::exception& e) {
    throw InputError(path_ + ": malformed JSON header (" + e.what() + ")");
  }

  std::vector<Entry> entries() {  // once, at the end
    return {std::make_move_iterator(entries_.begin()), std::make_move_iterator(entries_.end())};
  }
  std::map<std::string, std::string> metadata;

 private:
  bool value(json v) {
    if (open_.empty()) {  // a scalar at the top: the header itself, or a whole entry
      require(started_, path_ + ": JSON header is not an object");
      finish(std::move(v));
    } else {
      insert(std::move(v));
    }
    return true;
  }

  bool open(json container) {
    if (!started_) {
      require(container.is_object(), path_ + ": JSON header is not an object");
      started_ = true;
    } else if (open_.empty()) {
      current_ = std::move(container);
      open_.push_back(&current_);
    } else {
      open_.push_back(insert(std::move(container)));
    }
    return true;
  }

  bool close() {
    if (open_.empty()) return true;  // the end of the header object
    open_.pop_back();
    if (open_.empty()) finish(std::move(current_));
    return true;
  }

  // Adds v to the innermost open container; only the last element of each open container is
  // open, so the pointers in open_ stay valid.
  json* insert(json v) {
    if (name_ != kMetadataKey && ++values_ > kMaxEntryValues)
      throw InputError(path_ + ": tensor '" + name_ + "': header entry has more than " +
                       std::to_string(kMaxEntryValues) + " JSON values");
    json& parent = *open_.back();
    if (parent.is_array()) {
      parent.push_back(std::move(v));
      return &parent.back();
    }
    json& slot = parent[key_];
    slot = std::move(v);
    return &slot;
  }

  // One complete top-level value: the metadata or a tensor entry.
  void finish(json v) {
    values_ = 0;
    const bool duplicate = name_ == kMetadataKey ? seen_metadata_ : names_.count(name_) > 0;
    if (duplicate) throw InputError(path_ + ": duplicate tensor key '" + name_ + "' in header");
    if (name_ == kMetadataKey) {
      metadata = parse_metadata(path_, v);
      seen_metadata_ = true;
      return;
    }
    if (entries_.size() == kMaxTensors)
      throw InputError(path_ + ": header holds more than " + std::to_string(kMaxTensors) +
                       " tensors, vitnas's limit (corrupt file?)");
    Entry e = parse_entry(path_, name_, v, data_size_);
    if (checks_.each) checks_.each(e.info);
    entries_.push_back(std::move(e));
    names_.insert(entries_.back().info.name);  // a deque: the names do not move
  }

  const std::string& path_;
  const std::uint64_t data_size_;
  const Checks& checks_;
  bool started_ = false;      // inside the header object
  std::vector<json*> open_;   // containers open inside the current top-level value
  json current_;              // the current top-level value
  std::string name_, key_;    // its top-level key; the key inside its innermost object
  std::size_t values_ = 0;    // JSON values in the current entry
  std::deque<Entry> entries_;
  std::unordered_set<std::string_view> names_;
  bool seen_metadata_ = false;
};

}  // namespace

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

ParsedHeader parse_header(const std::string& path, std::istream& in, std::uint64_t file_size,
                          const Checks& checks) {
  require(file_size >= 8, path + ": file is " + std::to_string(file_size) +
                              " bytes, too short for a safetensors header (needs >= 8)");
  // The 8-byte length is decoded byte by byte, so it is little-endian on any host.
  unsigned char len_bytes[8];
  in.read(reinterpret_cast<char*>(len_bytes), 8);
  require(in.good(), path + ": read error in the header length");
  std::uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
  const std::uint64_t rest = file_size - 8;
  require(header_len <= kMaxHeaderBytes, path + ": header length " + std::to_string(header_len) +
                                             " exceeds vitnas's 16 MiB limit (corrupt file?)");
  require(header_len <= rest, path + ": header length " + std::to_string(header_len) +
                                  " is larger than the file (" + std::to_string(rest) +
                                  " bytes after the length field; truncated?)");

  const std::uint64_t data_size = rest - header_len;
  HeaderHandler handler(path, data_size, checks);
  BoundedBuf buf(in, header_len);
  std::istream header_stream(&buf);
  json::sax_parse(header_stream, &handler);  // strict: only whitespace may follow the object
  require(in.good(), path + ": read error in the JSON header");

  ParsedHeader parsed;
  parsed.entries = handler.entries();
  parsed.metadata = std::move(handler.metadata);
  parsed.data_start = 8 + header_len;
  check_layout(path, parsed.entries, data_size);
  if (checks.all) checks.all(public_header(parsed));
  return parsed;
}

Header public_header(const ParsedHeader& parsed) {
  Header h;
  h.metadata = parsed.metadata;
  for (const auto& e : parsed.entries) h.tensors.push_back(e.info);
  return h;
}

}  // namespace vitnas::safetensors::detail
