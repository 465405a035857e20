#include <catch2/catch.hpp>

#include <png.h>
#include <turbojpeg.h>
#include <zlib.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "core/error.h"
#include "data/cifar.h"
#include "data/dataset.h"
#include "data/idx.h"
#include "data/image_decode.h"
#include "data/image_folder.h"
#include "data/loader.h"
#include "data/split.h"
#include "data/synthetic.h"
#include "data/transforms.h"
#include "train/run.h"
#include "fixtures.h"

namespace data = vitnas::data;
namespace fs = std::filesystem;
using Catch::Contains;
using vitnas::InputError;

namespace {

std::string scratch_dir(const std::string& name) {
  const std::string dir = vitnas::test::scratch_path("data_" + name);
  fs::create_directories(dir);
  return dir;
}

void write_bytes(const std::string& path, const std::string& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_gz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  REQUIRE(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) ==
          static_cast<int>(bytes.size()));
  gzclose(f);
}

// An IDX uint8 file: magic, big-endian dims, then data (data_bytes may disagree with dims).
std::string idx_bytes(const std::vector<uint32_t>& dims, const std::string& data) {
  std::string s{'\0', '\0', '\x08', static_cast<char>(dims.size())};
  for (uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) s.push_back(static_cast<char>((d >> shift) & 0xff));
  return s + data;
}

std::string pixels(size_t n, int mul = 1) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * mul) & 0xff);
  return s;
}

// A Fashion-MNIST-like folder: 5 train images 3x4, labels {0, 3, 9, 1, 3}; 2 test images.
std::string make_idx_dir(const std::string& name) {
  const std::string dir = scratch_dir(name);
  write_gz(dir + "/train-images-idx3-ubyte.gz", idx_bytes({5, 3, 4}, pixels(60)));
  write_gz(dir + "/train-labels-idx1-ubyte.gz", idx_bytes({5}, std::string("\0\3\x09\1\3", 5)));
  write_gz(dir + "/t10k-images-idx3-ubyte.gz", idx_bytes({2, 3, 4}, pixels(24, 2)));
  write_gz(dir + "/t10k-labels-idx1-ubyte.gz", idx_bytes({2}, std::string("\7\0", 2)));
  return dir;
}

void write_png(const std::string& path, const torch::Tensor& chw) {
  fs::create_directories(fs::path(path).parent_path());
  auto hwc = chw.permute({1, 2, 0}).contiguous();
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(chw.size(2));
  image.height = static_cast<png_uint_32>(chw.size(1));
  image.format = chw.size(0) == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  REQUIRE(png_image_write_to_file(&image, path.c_str(), 0, hwc.data_ptr<uint8_t>(), 0, nullptr));
}

void write_jpeg(const std::string& path, const torch::Tensor& chw) {
  auto hwc = chw.permute({1, 2, 0}).contiguous();
  tjhandle tj = tjInitCompress();
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  REQUIRE(tjCompress2(tj, hwc.data_ptr<uint8_t>(), static_cast<int>(chw.size(2)), 0,
                      static_cast<int>(chw.size(1)), TJPF_RGB, &buf, &size, TJSAMP_444, 95,
                      0) == 0);
  write_bytes(path, std::string(reinterpret_cast<char*>(buf), size));
  tjFree(buf);
  tjDestroy(tj);
}

// A smooth RGB gradient (JPEG-friendly), (3, h, w).
torch::Tensor gradient(int64_t h, int64_t w) {
  auto y = torch::arange(h).view({1, h, 1}).expand({1, h, w});
  auto x = torch::arange(w).view({1, 1, w}).expand({1, h, w});
  return torch::cat({x * 200 / w + 20, y * 200 / h + 30, (x + y) * 100 / (h + w) + 60})
      .to(torch::kUInt8);
}

// f must throw an InputError whose one-line message contains `contains`.
template <class F>
void require_input_error(F&& f, const std::string& contains) {
  try {
    f();
  } catch (const InputError& e) {
    const std::string message = e.what();
    CHECK_THAT(message, Contains(contains));
    CHECK(message.find('\n') == std::string::npos);
    return;
  }
  FAIL("no InputError; expected one containing: " << contains);
}

}  // namespace

TEST_CASE("IDX gz files load as uint8 images and labels", "[data]") {
  const std::string dir = make_idx_dir("idx_ok");
  auto ds = data::open_dataset("fashion-mnist:" + dir, true);
  CHECK(ds->name() == "fashion-mnist");
  CHECK(ds->size() == 5);
  CHECK(ds->channels() == 1);
  CHECK(ds->num_classes() == 10);
  auto s = ds->get(2);
  CHECK(s.label == 9);
  REQUIRE(s.image.sizes() == torch::IntArrayRef{1, 3, 4});
  CHECK(s.image.scalar_type() == torch::kUInt8);
  CHECK(s.image[0][1][2].item<int>() == 24 + 6);

  auto test = data::open_dataset("mnist:" + dir, false);
  CHECK(test->name() == "mnist");
  CHECK(test->size() == 2);
  CHECK(test->get(0).label == 7);
  CHECK(test->get(1).image[0][0][3].item<int>() == 2 * (12 + 3));  // pixels(24, 2)

  // An unpacked (not gzip'd) IDX file reads the same.
  const std::string raw = scratch_dir("idx_raw") + "/labels";
  write_bytes(raw, idx_bytes({3}, std::string("\1\2\3", 3)));
  CHECK(data::read_idx(raw).sizes() == torch::IntArrayRef{3});
}

TEST_CASE("bad IDX files give one-line InputErrors naming the file", "[data]") {
  const std::string dir = scratch_dir("idx_bad");
  const std::string labels = dir + "/labels.gz";
  write_gz(labels, idx_bytes({4}, std::string("\0\1\2\3", 4)));

  SECTION("missing") {
    require_input_error([&] { data::read_idx(dir + "/nope.gz"); }, dir + "/nope.gz: file not found");
    require_input_error([&] { data::open_dataset("fashion-mnist:" + dir + "/none", true); },
                        "not found");
  }
  SECTION("data shorter than the header says") {
    const std::string p = dir + "/short.gz";
    write_gz(p, idx_bytes({5, 3, 4}, pixels(59)));
    require_input_error([&] { data::read_idx(p); }, p + ": truncated IDX data (59 of 60 bytes)");
  }
  SECTION("a gzip stream cut short") {
    const std::string full = dir + "/full.gz", cut = dir + "/cut.gz";
    write_gz(full, idx_bytes({50, 28, 28}, pixels(50 * 28 * 28, 7)));
    const std::string bytes = read_bytes(full);
    write_bytes(cut, bytes.substr(0, bytes.size() / 2));
    require_input_error([&] { data::read_idx(cut); }, cut + ": ");
  }
  SECTION("wrong magic") {
    const std::string p = dir + "/magic.gz";
    write_gz(p, std::string("\1\2\x08\1\0\0\0\1x", 9));
    require_input_error([&] { data::read_idx(p); }, p + ": not an IDX file (bad magic number)");
    const std::string q = dir + "/float.gz";
    write_gz(q, std::string("\0\0\x0d\1\0\0\0\1xxxx", 12));
    require_input_error([&] { data::read_idx(q); }, "only 0x08");
  }
  SECTION("trailing bytes") {
    const std::string p = dir + "/long.gz";
    write_gz(p, idx_bytes({2}, "abc"));
    require_input_error([&] { data::read_idx(p); }, p + ": longer than its IDX header says");
  }
  SECTION("label out of range") {
    const std::string images = dir + "/images.gz", bad = dir + "/bad_labels.gz";
    write_gz(images, idx_bytes({4, 2, 2}, pixels(16)));
    write_gz(bad, idx_bytes({4}, std::string("\0\1\2\12", 4)));
    require_input_error([&] { data::load_idx_dataset(images, bad, 10, "mnist"); },
                        bad + ": label 10 at index 3 is out of range [0, 10)");
    require_input_error([&] { data::load_idx_dataset(images, labels, 3, "mnist"); },
                        labels + ": label 3 at index 3");
  }
  SECTION("count mismatch and wrong rank") {
    const std::string images = dir + "/images5.gz";
    write_gz(images, idx_bytes({5, 2, 2}, pixels(20)));
    require_input_error([&] { data::load_idx_dataset(images, labels, 10, "mnist"); },
                        labels + ": 4 labels for 5 images");
    require_input_error([&] { data::load_idx_dataset(labels, labels, 10, "mnist"); },
                        labels + ": expected 3 IDX dimensions");
  }
  SECTION("bad specs") {
    require_input_error([&] { data::open_dataset("imagenet:/x", true); }, "unknown dataset");
    require_input_error([&] { data::open_dataset("mnist", true); }, "needs a folder");
    require_input_error([&] { data::open_dataset("synthetic:abc", true); }, "sample count");
  }
}

TEST_CASE("CIFAR-10 and CIFAR-100 binary batches", "[data]") {
  const std::string dir = scratch_dir("cifar");
  const std::string c10 = dir + "/cifar-10-batches-bin";
  auto record10 = [](int label, int fill) { return std::string(1, char(label)) + pixels(3072, fill); };
  for (int b = 1; b <= 5; ++b)
    write_bytes(c10 + "/data_batch_" + std::to_string(b) + ".bin",
                record10(b, 1) + record10(b + 4, 3));
  write_bytes(c10 + "/test_batch.bin", record10(0, 5));

  auto train = data::open_dataset("cifar10:" + dir, true);  // finds the archive's subfolder
  CHECK(train->size() == 10);
  CHECK(train->channels() == 3);
  CHECK(train->num_classes() == 10);
  CHECK(train->get(0).label == 1);
  CHECK(train->get(9).label == 9);
  auto img = train->get(1).image;  // record10(5, 3): byte i = 3 * i mod 256
  REQUIRE(img.sizes() == torch::IntArrayRef{3, 32, 32});
  CHECK(img[1][0][1].item<int>() == (3 * (1024 + 1)) % 256);  // G plane follows R
  CHECK(data::open_dataset("cifar10:" + c10, false)->size() == 1);

  const std::string c100 = dir + "/c100";
  write_bytes(c100 + "/train.bin", std::string("\2\77", 2) + pixels(3072) +
                                       std::string("\3\5", 2) + pixels(3072));
  write_bytes(c100 + "/test.bin", std::string("\1\143", 2) + pixels(3072));
  auto t100 = data::open_dataset("cifar100:" + c100, true);
  CHECK(t100->num_classes() == 100);
  CHECK(t100->get(0).label == 63);  // the fine label
  CHECK(t100->get(1).label == 5);
  CHECK(data::open_dataset("cifar100:" + c100, false)->get(0).label == 99);

  SECTION("truncated, bad label, missing file") {
    const std::string bad = dir + "/bad";
    fs::copy(c10, bad);
    const std::string b3 = bad + "/data_batch_3.bin";
    write_bytes(b3, record10(1, 1) + record10(2, 1).substr(0, 100));
    require_input_error([&] { data::open_cifar(bad, 10, true); }, b3 + ": truncated");
    write_bytes(b3, record10(1, 1) + record10(10, 1));
    require_input_error([&] { data::open_cifar(bad, 10, true); },
                        b3 + ": label 10 at index 1 is out of range [0, 10)");
    fs::remove(b3);
    require_input_error([&] { data::open_cifar(bad, 10, true); }, b3 + ": file not found");
  }
}

TEST_CASE("ImageFolder decodes JPEG and PNG, grey and RGB, and names bad files", "[data]") {
  const std::string dir = scratch_dir("folder");
  const auto rgb = gradient(20, 30);
  auto grey = torch::arange(12 * 10, torch::kInt64).remainder(256).to(torch::kUInt8).view({1, 12, 10});
  write_png(dir + "/train/cat/a.png", rgb);
  write_jpeg(dir + "/train/dog/b.JPG", rgb);
  write_png(dir + "/train/dog/c.png", grey);
  write_bytes(dir + "/train/dog/notes.txt", "not an image");
  write_png(dir + "/val/dog/d.png", grey);

  auto train = data::open_dataset("folder:" + dir, true);
  REQUIRE(train->size() == 3);
  CHECK(train->num_classes() == 2);
  CHECK(train->channels() == 3);
  auto a = train->get(0);
  CHECK(a.label == 0);
  CHECK(torch::equal(a.image, rgb));  // PNG is lossless
  auto b = train->get(1);
  CHECK(b.label == 1);
  REQUIRE(b.image.sizes() == rgb.sizes());
  const double jpeg_err = (b.image.to(torch::kFloat) - rgb.to(torch::kFloat)).abs().mean().item<double>();
  CHECK(jpeg_err < 3.0);  // quality 95, 4:4:4 on a smooth gradient
  auto c = train->get(2);
  REQUIRE(c.image.sizes() == torch::IntArrayRef{3, 12, 10});
  CHECK(torch::equal(c.image[0], grey[0]));
  CHECK(torch::equal(c.image[2], grey[0]));

  auto val = data::open_dataset("folder:" + dir, false);
  REQUIRE(val->size() == 1);
  CHECK(val->num_classes() == 2);
  CHECK(val->get(0).label == 1);  // "dog" keeps its training label though val has no "cat"

  // decode_image to grey: a colour JPEG converts, a grey PNG stays.
  CHECK(data::decode_image(read_bytes(dir + "/train/dog/b.JPG"), "b", 1).size(0) == 1);

  SECTION("corrupt and truncated images") {
    const std::string jpeg = read_bytes(dir + "/train/dog/b.JPG");
    const std::string bad = dir + "/bad/train/cat/broken.jpg";
    write_bytes(bad, std::string("\xFF\xD8\xFF", 3) + "garbage garbage garbage");
    write_bytes(dir + "/bad/train/cat/cut.jpg", jpeg.substr(0, jpeg.size() / 2));
    write_bytes(dir + "/bad/train/cat/cut.png", read_bytes(dir + "/train/cat/a.png").substr(0, 60));
    write_bytes(dir + "/bad/train/cat/text.png", "hello");
    auto ds = data::open_dataset("folder:" + dir + "/bad", true);
    REQUIRE(ds->size() == 4);  // sorted: broken.jpg cut.jpg cut.png text.png
    require_input_error([&] { ds->get(0); }, bad + ": cannot decode image");
    require_input_error([&] { ds->get(1); }, "cut.jpg: cannot decode image");
    require_input_error([&] { ds->get(2); }, "cut.png: cannot decode image");
    require_input_error([&] { ds->get(3); }, "text.png: cannot decode image (neither JPEG nor PNG)");

    // Through the loader, the error surfaces from next().
    std::shared_ptr<const data::Dataset> shared = std::move(ds);
    data::TransformOptions t;
    t.img_size = 8;
    data::LoaderOptions o;
    o.batch_size = 2;
    o.threads = 2;
    data::DataLoader loader(shared, t, o);
    loader.begin_epoch(0);
    require_input_error([&] { loader.next(); }, "cannot decode image");
  }
  SECTION("missing folders") {
    require_input_error([&] { data::open_dataset("folder:" + dir + "/none", true); }, "not found");
    fs::create_directories(dir + "/empty/train/x");
    require_input_error([&] { data::open_dataset("folder:" + dir + "/empty", true); },
                        "no .jpg/.jpeg/.png images under");
  }
}

TEST_CASE("the real Fashion-MNIST (Debian dataset-fashion-mnist)", "[data]") {
  if (!fs::exists(std::string(data::kDefaultFashionMnistDir) + "/train-images-idx3-ubyte.gz")) {
    WARN("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist); skipped");
    return;
  }
  auto train = data::open_dataset("fashion-mnist", true);
  auto test = data::open_dataset("fashion-mnist", false);
  CHECK(train->size() == 60000);
  CHECK(test->size() == 10000);
  CHECK(train->num_classes() == 10);
  CHECK(train->get(0).image.sizes() == torch::IntArrayRef{1, 28, 28});
  CHECK(train->get(0).label == 9);  // the first training image is an ankle boot
  std::vector<int> counts(10);
  for (int64_t i = 0; i < test->size(); ++i) ++counts[static_cast<size_t>(test->get(i).label)];
  CHECK(counts == std::vector<int>(10, 1000));
}

TEST_CASE("transforms: shapes, channels, normalisation, determinism", "[data]") {
  data::TransformOptions o;
  o.img_size = 32;
  std::mt19937_64 rng(1);
  const auto grey = torch::full({1, 28, 28}, 128, torch::kUInt8);
  const auto rgb = gradient(24, 40);

  SECTION("eval: grey -> 3 channels, resized, normalised") {
    o.mean = {0.5f};
    o.std = {0.25f};
    auto x = data::transform(grey, o, rng);
    REQUIRE(x.sizes() == torch::IntArrayRef{3, 32, 32});
    CHECK(x.scalar_type() == torch::kFloat32);
    CHECK(x.sub((128.0 / 255.0 - 0.5) / 0.25).abs().max().item<double>() < 1e-4);
    auto y = data::transform(rgb, o, rng);  // non-square: shorter side, centre crop
    CHECK(y.sizes() == torch::IntArrayRef{3, 32, 32});
  }
  SECTION("RGB -> 1 channel by luminance") {
    o.in_chans = 1;
    o.mean = {0.0f};
    o.std = {1.0f};
    auto red = torch::zeros({3, 32, 32}, torch::kUInt8);
    red[0].fill_(255);
    auto x = data::transform(red, o, rng);
    REQUIRE(x.sizes() == torch::IntArrayRef{1, 32, 32});
    CHECK(x.mean().item<double>() == Approx(0.299).epsilon(1e-4));
  }
  SECTION("train augmentations are a pure function of the RNG state") {
    o.train = true;
    for (const char* aug : {"rrc", "pad_crop", "none"}) {
      o.augment = aug;
      std::mt19937_64 r1(7), r2(7), r3(8);
      auto a = data::transform(rgb, o, r1);
      auto b = data::transform(rgb, o, r2);
      CHECK(a.sizes() == torch::IntArrayRef{3, 32, 32});
      CHECK(torch::equal(a, b));
      bool differs = false;  // some seed among a few must change the crop or the flip
      for (uint64_t s = 8; s < 16 && !differs; ++s) {
        std::mt19937_64 r(s);
        differs = !torch::equal(a, data::transform(rgb, o, r));
      }
      CHECK(differs);
    }
    o.augment = "none";  // no crop: the resized image or its mirror, each seen
    const auto square = gradient(40, 40);
    auto eval = o;
    eval.train = false;
    const auto resized = data::transform(square, eval, rng);
    int mirrored = 0;
    for (uint64_t s = 0; s < 8; ++s) {
      std::mt19937_64 r(s);
      const auto x = data::transform(square, o, r);
      const bool flipped = torch::equal(x, resized.flip({2}));
      CHECK((flipped || torch::equal(x, resized)));
      mirrored += flipped;
    }
    CHECK(mirrored > 0);
    CHECK(mirrored < 8);
  }
  SECTION("pad_crop pads with black") {
    o.train = true;
    o.augment = "pad_crop";
    o.flip = false;
    o.pad = 4;
    o.mean = {0.0f};
    o.std = {1.0f};
    auto white = torch::full({3, 32, 32}, 255, torch::kUInt8);
    int shifted = 0;
    for (uint64_t s = 0; s < 10; ++s) {
      std::mt19937_64 r(s);
      auto x = data::transform(white, o, r);
      shifted += x.min().item<float>() == 0.0f;
      CHECK(x.max().item<float>() == Approx(1.0f));
    }
    CHECK(shifted > 0);
  }
  SECTION("bad options") {
    o.augment = "mixup";
    require_input_error([&] { data::validate(o); }, "augment 'mixup'");
    o.augment = "rrc";
    o.in_chans = 2;
    require_input_error([&] { data::validate(o); }, "in_chans must be 1 or 3");
    o.in_chans = 3;
    o.mean = {0.1f, 0.2f};
    require_input_error([&] { data::validate(o); }, "mean and std");
  }
  CHECK(data::normalization_for("fashion-mnist").mean.size() == 1);
  CHECK(data::normalization_for("folder").mean.size() == 3);
}

TEST_CASE("held-out validation split", "[data]") {
  auto s = data::split_by_count(100, 15, 3);
  CHECK(s.val.size() == 15);
  CHECK(s.train.size() == 85);
  std::set<int64_t> all(s.train.begin(), s.train.end());
  all.insert(s.val.begin(), s.val.end());
  CHECK(all.size() == 100);  // disjoint and complete
  CHECK(*all.begin() == 0);
  CHECK(*all.rbegin() == 99);
  CHECK(std::is_sorted(s.val.begin(), s.val.end()));
  CHECK(data::split_by_count(100, 15, 3).val == s.val);
  CHECK(data::split_by_count(100, 15, 4).val != s.val);
  CHECK(data::split_by_fraction(100, 0.1, 3).val.size() == 10);
  CHECK(data::split_by_fraction(100, 0.0, 3).val.empty());
  require_input_error([] { data::split_by_count(10, 10, 0); }, "validation count 10");
  require_input_error([] { data::split_by_fraction(10, 1.0, 0); }, "fraction");

  std::shared_ptr<const data::Dataset> base =
      std::make_shared<data::SyntheticDataset>(40, 5);
  data::Subset val(base, data::split_by_count(40, 8, 0).val);
  CHECK(val.size() == 8);
  CHECK(val.name() == "synthetic");
  CHECK(torch::equal(val.get(3).image, base->get(val.indices()[3]).image));
  require_input_error([&] { data::Subset(base, {0, 40}); }, "index 40 at position 1");
}

TEST_CASE("synthetic dataset is seeded and class-dependent", "[data]") {
  data::SyntheticDataset a(50, 1), b(50, 1), c(50, 2);
  CHECK(torch::equal(a.get(7).image, b.get(7).image));
  CHECK(!torch::equal(a.get(7).image, c.get(7).image));
  CHECK(a.get(7).label == 7);
  CHECK(a.get(17).label == 7);
  // Same class: closer than different classes (the templates dominate the noise).
  auto f = [&](int64_t i) { return a.get(i).image.to(torch::kFloat); };
  const double same = (f(3) - f(13)).abs().mean().item<double>();
  const double other = (f(3) - f(4)).abs().mean().item<double>();
  CHECK(same < other);
  auto spec = data::open_dataset("synthetic:100", true);
  CHECK(spec->size() == 100);
  CHECK(data::open_dataset("synthetic:100", false)->size() == 25);
}

namespace {

std::vector<data::Batch> run_epoch(data::DataLoader& loader, int64_t epoch, int64_t start = 0) {
  loader.begin_epoch(epoch, start);
  std::vector<data::Batch> out;
  while (auto b = loader.next()) out.push_back(std::move(*b));
  return out;
}

bool same_batches(const std::vector<data::Batch>& a, const std::vector<data::Batch>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].index != b[i].index || !torch::equal(a[i].images, b[i].images) ||
        !torch::equal(a[i].labels, b[i].labels))
      return false;
  return true;
}

}  // namespace

TEST_CASE("loader: deterministic in (seed, epoch, position), resumable, sharded", "[data]") {
  std::shared_ptr<const data::Dataset> ds = std::make_shared<data::SyntheticDataset>(100, 9);
  data::TransformOptions t;
  t.img_size = 12;
  t.train = true;
  t.augment = "rrc";
  data::LoaderOptions o;
  o.batch_size = 8;
  o.seed = 42;

  auto make = [&](int threads, int prefetch = 4) {
    auto opt = o;
    opt.threads = threads;
    opt.prefetch = prefetch;
    return std::make_unique<data::DataLoader>(ds, t, opt);
  };
  auto l0 = make(0), l1 = make(1), l3 = make(3, 2);
  CHECK(l1->num_batches() == 13);
  const auto ref = run_epoch(*l1, 2);
  REQUIRE(ref.size() == 13);
  CHECK(ref[0].images.sizes() == torch::IntArrayRef{8, 3, 12, 12});
  CHECK(ref.back().images.size(0) == 4);  // 100 = 12 * 8 + 4
  CHECK(same_batches(ref, run_epoch(*l3, 2)));
  CHECK(same_batches(ref, run_epoch(*l0, 2)));

  // Labels and order agree with epoch_order; every sample once.
  const auto order = l1->epoch_order(2);
  std::set<int64_t> seen(order.begin(), order.end());
  CHECK(seen.size() == 100);
  for (size_t k = 0; k < 8; ++k) CHECK(ref[0].labels[k].item<int64_t>() == ds->get(order[k]).label);

  SECTION("resume at batch k gives exactly batches k.. of the full epoch") {
    const auto tail = run_epoch(*l3, 2, 5);
    CHECK(same_batches(tail, std::vector<data::Batch>(ref.begin() + 5, ref.end())));
    // Interrupt mid-epoch (batches still prefetching), restart elsewhere.
    l3->begin_epoch(2);
    l3->next();
    CHECK(same_batches(run_epoch(*l3, 2, 12), std::vector<data::Batch>(ref.begin() + 12, ref.end())));
    CHECK(run_epoch(*l3, 2, 13).empty());
    require_input_error([&] { l3->begin_epoch(2, 14); }, "start batch 14");
  }
  SECTION("epochs and seeds differ; no shuffle keeps dataset order") {
    const auto other = run_epoch(*l1, 3);
    CHECK(!torch::equal(other[0].labels, ref[0].labels));
    CHECK(l1->epoch_order(3) != order);
    auto opt = o;
    opt.shuffle = false;
    opt.threads = 2;
    data::DataLoader plain(ds, t, opt);
    const auto p = plain.epoch_order(0);
    CHECK(p.front() == 0);
    CHECK(p.back() == 99);
    CHECK(plain.epoch_order(1) == p);
  }
  SECTION("sharded ranks cover the epoch exactly once, padded to equal counts") {
    std::multiset<int64_t> all;
    for (int64_t r = 0; r < 3; ++r) {
      auto opt = o;
      opt.rank = r;
      opt.world_size = 3;
      opt.threads = 2;
      data::DataLoader shard(ds, t, opt);
      CHECK(shard.samples_per_rank() == 34);
      CHECK(shard.num_batches() == 5);
      const auto part = shard.epoch_order(2);
      all.insert(part.begin(), part.end());
      int64_t n = 0;
      for (const auto& b : run_epoch(shard, 2)) n += b.labels.size(0);
      CHECK(n == 34);
    }
    CHECK(all.size() == 102);
    std::set<int64_t> distinct(all.begin(), all.end());
    CHECK(distinct.size() == 100);
    // The two padding slots repeat the start of the epoch's permutation.
    CHECK(all.count(order[0]) == 2);
    CHECK(all.count(order[1]) == 2);
  }
  SECTION("drop_last and bad options") {
    auto opt = o;
    opt.drop_last = true;
    data::DataLoader d(ds, t, opt);
    CHECK(d.num_batches() == 12);
    const auto batches = run_epoch(d, 0);
    CHECK(batches.size() == 12);
    CHECK(batches.back().images.size(0) == 8);
    opt.rank = 3;
    opt.world_size = 3;
    require_input_error([&] { data::DataLoader(ds, t, opt); }, "rank 3");
    opt = o;
    opt.batch_size = 0;
    require_input_error([&] { data::DataLoader(ds, t, opt); }, "batch_size");
  }
}

TEST_CASE("loader: grey IDX data to a 3-channel network", "[data]") {
  std::shared_ptr<const data::Dataset> ds = data::open_dataset("mnist:" + make_idx_dir("idx_loader"), true);
  data::TransformOptions t;
  t.img_size = 16;
  const auto norm = data::normalization_for(ds->name());
  t.mean = norm.mean;
  t.std = norm.std;
  data::LoaderOptions o;
  o.batch_size = 2;
  data::DataLoader loader(ds, t, o);
  const auto batches = run_epoch(loader, 0);
  REQUIRE(batches.size() == 3);
  CHECK(batches[0].images.sizes() == torch::IntArrayRef{2, 3, 16, 16});
  CHECK(torch::equal(batches[0].images.select(1, 0), batches[0].images.select(1, 2)));
  CHECK(batches[2].labels.size(0) == 1);
}

// Hidden (run with "[data_bench]"): one Fashion-MNIST training epoch at 64x64 with 2 threads.
TEST_CASE("loader throughput on Fashion-MNIST", "[.][data_bench]") {
  if (!fs::exists(std::string(data::kDefaultFashionMnistDir) + "/train-images-idx3-ubyte.gz")) {
    WARN("Fashion-MNIST not installed; skipped");
    return;
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::shared_ptr<const data::Dataset> ds = data::open_dataset("fashion-mnist", true);
  const auto t1 = std::chrono::steady_clock::now();
  for (const char* aug : {"rrc", "none", "pad_crop"}) {
    data::TransformOptions t;
    t.img_size = 64;
    t.train = true;
    t.augment = aug;
    data::LoaderOptions o;
    o.batch_size = 128;
    o.threads = 2;
    data::DataLoader loader(ds, t, o);
    const auto s = std::chrono::steady_clock::now();
    int64_t n = 0;
    loader.begin_epoch(0);
    while (auto b = loader.next()) n += b->labels.size(0);
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - s).count();
    WARN("augment " << aug << ": " << n << " images in " << sec << " s ("
                    << static_cast<int64_t>(static_cast<double>(n) / sec) << " img/s); open took "
                    << std::chrono::duration<double>(t1 - t0).count() << " s");
    CHECK(n == 60000);
  }
}

TEST_CASE("train subsets: --train-images is a seeded subset of the train split, validation unchanged",
          "[data]") {
  using namespace vitnas;
  TrainRecipe r;
  r.arch = preset("m0");
  r.data = "synthetic:200";
  r.val_fraction = 0.1;
  r.seed = 5;
  const Datasets all = open_datasets(r);
  r.train_images = 50;
  const Datasets cut = open_datasets(r);
  CHECK(all.train->size() == 180);
  CHECK(cut.train->size() == 50);
  CHECK(cut.val->size() == 20);
  // Every kept image is a train image (none from validation), no image twice.
  auto ids = [](const data::Dataset& d) {
    std::vector<int64_t> out;
    for (int64_t i = 0; i < d.size(); ++i) out.push_back(d.get(i).image.sum().item<float>() * 1e4);
    return out;
  };
  const auto train_ids = ids(*all.train), kept_ids = ids(*cut.train), val_ids = ids(*cut.val);
  const std::set<int64_t> train_set(train_ids.begin(), train_ids.end());
  const std::set<int64_t> kept_set(kept_ids.begin(), kept_ids.end());
  CHECK(kept_set.size() == 50);
  for (int64_t k : kept_set) CHECK(train_set.count(k) == 1);
  CHECK(ids(*all.val) == val_ids);
  CHECK(ids(*open_datasets(r).train) == kept_ids);  // the same seed, the same images
  r.seed = 6;
  CHECK(ids(*open_datasets(r).train) != kept_ids);
  r.train_images = 1000;  // more than there are: all of them
  CHECK(open_datasets(r).train->size() == 180);

  // --test-images: one subset for every seed (runs of different seeds compare on it).
  r.test_images = 10;
  const auto test_ids = ids(*open_datasets(r).test);
  CHECK(test_ids.size() == 10);
  CHECK(std::set<int64_t>(test_ids.begin(), test_ids.end()).size() == 10);
  r.seed = 7;
  CHECK(ids(*open_datasets(r).test) == test_ids);
  CHECK(all.test->size() == 50);
}
