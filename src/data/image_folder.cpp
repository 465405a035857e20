#include "data/image_folder.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <utility>

#include <torch/torch.h>

#include "core/error.h"
#include "core/io.h"
#include "data/image_decode.h"

namespace vitnas::data {
namespace fs = std::filesystem;
namespace {

bool is_image_name(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

std::vector<std::string> subfolders(const std::string& root) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(root))
    if (e.is_directory()) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

ImageFolder::ImageFolder(const std::string& root, std::vector<std::string> classes)
    : classes_(std::move(classes)) {
  require(fs::is_directory(root), "folder: image folder " + root + " not found");
  if (classes_.empty()) classes_ = subfolders(root);
  require(!classes_.empty(), "folder: " + root + " has no class subfolders");
  for (size_t c = 0; c < classes_.size(); ++c) {
    const fs::path dir = fs::path(root) / classes_[c];
    if (!fs::is_directory(dir)) continue;  // a small val set may lack a class
    std::vector<std::string> paths;
    for (const auto& e : fs::recursive_directory_iterator(dir))
      if (e.is_regular_file() && is_image_name(e.path())) paths.push_back(e.path().string());
    std::sort(paths.begin(), paths.end());
    for (auto& p : paths) files_.emplace_back(std::move(p), static_cast<int64_t>(c));
  }
  require(!files_.empty(), "folder: no .jpg/.jpeg/.png images under " + root);
}

Sample ImageFolder::get(int64_t index) const {
  TORCH_CHECK(index >= 0 && index < size(), "ImageFolder::get: index out of range");
  const auto& [path, label] = files_[static_cast<size_t>(index)];
  return {decode_image(read_file(path), path, 3), label};
}

std::unique_ptr<Dataset> open_image_folder(const std::string& dir, bool train) {
  const fs::path train_dir = fs::path(dir) / "train";
  require(fs::is_directory(train_dir), "folder: " + train_dir.string() + " not found");
  if (train) return std::make_unique<ImageFolder>(train_dir.string());
  fs::path eval_dir = fs::path(dir) / "val";
  if (!fs::is_directory(eval_dir)) eval_dir = fs::path(dir) / "test";
  require(fs::is_directory(eval_dir),
          "folder: neither " + dir + "/val nor " + dir + "/test found");
  auto classes = subfolders(train_dir.string());
  for (const auto& c : subfolders(eval_dir.string()))
    require(std::binary_search(classes.begin(), classes.end(), c),
            "folder: class folder " + (eval_dir / c).string() + " has no match in " +
                train_dir.string());
  return std::make_unique<ImageFolder>(eval_dir.string(), classes);
}

}  // namespace vitnas::data
