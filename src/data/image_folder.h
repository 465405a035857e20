// ImageFolder: one subfolder per class, each holding JPEG and PNG files (torchvision's layout).
// Images are decoded on demand in get(), in the loader's worker threads; only the file list is
// kept in memory.
#pragma once

#include <string>
#include <vector>

#include "data/dataset.h"

namespace vitnas::data {

class ImageFolder : public Dataset {
 public:
  // root/<class>/*.{jpg,jpeg,png} (extension case-insensitive; other files are ignored).
  // classes: the class folder names, whose order gives the labels; empty = the sorted
  // subfolders of root; a listed class without a folder has no images (a small val set may lack
  // one) but keeps its label. Files are sorted by path so indices are stable. InputError if root
  // is missing or no image is found.
  explicit ImageFolder(const std::string& root, std::vector<std::string> classes = {});

  int64_t size() const override { return static_cast<int64_t>(files_.size()); }
  // Decodes to RGB; InputError naming the file if it cannot be read or decoded.
  Sample get(int64_t index) const override;
  int64_t num_classes() const override { return static_cast<int64_t>(classes_.size()); }
  int64_t channels() const override { return 3; }
  std::string name() const override { return "folder"; }
  const std::vector<std::string>& classes() const { return classes_; }

 private:
  std::vector<std::string> classes_;
  std::vector<std::pair<std::string, int64_t>> files_;  // path, label
};

// folder:DIR: train reads DIR/train; evaluation reads DIR/val (or DIR/test) with the class list
// of DIR/train, so labels agree between the two.
std::unique_ptr<Dataset> open_image_folder(const std::string& dir, bool train);

}  // namespace vitnas::data
