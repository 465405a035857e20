#include "data/idx.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <vector>

#include <torch/torch.h>

#include "core/error.h"
#include "data/memory_dataset.h"

namespace vitnas::data {
namespace {

// 2 GiB: far above any IDX set, and below gzread's int length limit.
constexpr uint64_t kMaxBytes = uint64_t{1} << 31;

// Owns a gzFile; every read checks zlib's error state so truncation is never silent.
class GzReader {
 public:
  explicit GzReader(const std::string& path) : path_(path) {
    require(std::filesystem::is_regular_file(path), path + ": file not found");
    file_ = gzopen(path.c_str(), "rb");
    require(file_ != nullptr, path + ": cannot open");
    // zlib's 8 KB default makes reading 26 MB needlessly slow; a small file keeps it (the
    // 256 KB buffer, 768 KB with the output side, made each tiny read 5x slower under ASan).
    const auto bytes = std::filesystem::file_size(path);
    gzbuffer(file_, static_cast<unsigned>(std::clamp<std::uintmax_t>(bytes, 8192, 1 << 18)));
  }
  ~GzReader() {
    if (file_) gzclose(file_);
  }
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;

  // Reads up to n bytes; returns how many were read (fewer only at the end of the data).
  // False for a plain (uncompressed) file, which zlib reads as is; valid after the first read.
  bool compressed() { return gzdirect(file_) == 0; }

  uint64_t read(void* dst, uint64_t n) {
    auto* out = static_cast<unsigned char*>(dst);
    uint64_t done = 0;
    while (done < n) {
      const unsigned chunk = static_cast<unsigned>(std::min<uint64_t>(n - done, 1u << 30));
      const int got = gzread(file_, out + done, chunk);
      if (got < 0) {
        int code = 0;
        const char* msg = gzerror(file_, &code);
        throw InputError(path_ + ": corrupt or truncated gzip data (" + msg + ")");
      }
      if (got == 0) break;
      done += static_cast<uint64_t>(got);
    }
    // A gzip stream cut short reads as a short read plus Z_BUF_ERROR.
    int code = Z_OK;
    const char* msg = gzerror(file_, &code);
    require(code == Z_OK || code == Z_STREAM_END,
            path_ + ": corrupt or truncated gzip data (" + msg + ")");
    return done;
  }

 private:
  std::string path_;
  gzFile file_ = nullptr;
};

}  // namespace

torch::Tensor read_idx(const std::string& path) {
  GzReader in(path);
  std::array<unsigned char, 4> magic{};
  require(in.read(magic.data(), 4) == 4, path + ": truncated IDX header");
  require(magic[0] == 0 && magic[1] == 0 && magic[3] >= 1 && magic[3] <= 4,
          path + ": not an IDX file (bad magic number)");
  require(magic[2] == 0x08, path + ": IDX data type " + std::to_string(magic[2]) +
                                " is not supported (only 0x08, unsigned byte)");
  std::vector<int64_t> dims(magic[3]);
  uint64_t total = 1;
  for (auto& d : dims) {
    std::array<unsigned char, 4> b{};
    require(in.read(b.data(), 4) == 4, path + ": truncated IDX header");
    d = (int64_t{b[0]} << 24) | (int64_t{b[1]} << 16) | (int64_t{b[2]} << 8) | int64_t{b[3]};
    total *= static_cast<uint64_t>(d);
    require(total <= kMaxBytes, path + ": IDX dimensions too large");
  }
  // The header alone must not size the allocation (a 16-byte file could ask for 2 GiB): deflate
  // expands at most 1032:1, so a file of this size cannot hold more (a plain file: 1:1).
  const uint64_t file_bytes = std::filesystem::file_size(path);
  const uint64_t most = in.compressed() ? file_bytes * 1032 : file_bytes;
  require(total <= most, path + ": truncated IDX file (its header says " + std::to_string(total) +
                             " bytes of data, more than a " + std::to_string(file_bytes) +
                             "-byte file can hold)");
  auto data = torch::empty(dims, torch::kUInt8);
  const uint64_t got = in.read(data.data_ptr<uint8_t>(), total);
  require(got == total, path + ": truncated IDX data (" + std::to_string(got) + " of " +
                            std::to_string(total) + " bytes)");
  unsigned char extra = 0;
  require(in.read(&extra, 1) == 0, path + ": longer than its IDX header says");
  return data;
}

std::unique_ptr<Dataset> load_idx_dataset(const std::string& images_path,
                                          const std::string& labels_path, int64_t num_classes,
                                          const std::string& name) {
  auto images = read_idx(images_path);
  auto labels = read_idx(labels_path);
  require(images.dim() == 3, images_path + ": expected 3 IDX dimensions (N, H, W), got " +
                                 std::to_string(images.dim()));
  require(labels.dim() == 1, labels_path + ": expected 1 IDX dimension (N), got " +
                                 std::to_string(labels.dim()));
  require(images.size(0) > 0, images_path + ": no images");
  require(images.size(1) > 0 && images.size(2) > 0,
          images_path + ": images of " + std::to_string(images.size(1)) + "x" +
              std::to_string(images.size(2)) + " pixels (empty)");
  require(labels.size(0) == images.size(0),
          labels_path + ": " + std::to_string(labels.size(0)) + " labels for " +
              std::to_string(images.size(0)) + " images in " + images_path);
  check_labels(labels, num_classes, labels_path);
  return std::make_unique<MemoryDataset>(images.unsqueeze(1), labels, num_classes, name);
}

std::unique_ptr<Dataset> open_mnist_dir(const std::string& dir, bool train,
                                        const std::string& name) {
  namespace fs = std::filesystem;
  require(fs::is_directory(dir), name + ": dataset folder " + dir + " not found" +
                                     (name == "fashion-mnist" && dir == kDefaultFashionMnistDir
                                          ? " (apt-get install dataset-fashion-mnist)"
                                          : ""));
  const std::string prefix = train ? "train" : "t10k";
  // Prefer the .gz name (what both sets ship as); fall back to an unpacked file.
  auto pick = [&](const std::string& base) {
    const std::string gz = (fs::path(dir) / (base + ".gz")).string();
    const std::string raw = (fs::path(dir) / base).string();
    return fs::exists(gz) || !fs::exists(raw) ? gz : raw;
  };
  return load_idx_dataset(pick(prefix + "-images-idx3-ubyte"),
                          pick(prefix + "-labels-idx1-ubyte"), 10, name);
}

}  // namespace vitnas::data
