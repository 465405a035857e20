#include "data/dataset.h"

#include <cctype>

#include <torch/torch.h>

#include "core/error.h"
#include "data/cifar.h"
#include "data/idx.h"
#include "data/image_folder.h"
#include "data/synthetic.h"

namespace vitnas::data {
namespace {

int64_t parse_count(const std::string& text, const std::string& spec) {
  bool digits = !text.empty() && text.size() <= 12;
  for (char c : text) digits = digits && std::isdigit(static_cast<unsigned char>(c));
  require(digits && std::stoll(text) >= 4,
          "data spec '" + spec + "': synthetic:N needs a sample count N >= 4, got '" + text + "'");
  return std::stoll(text);
}

}  // namespace

std::unique_ptr<Dataset> open_dataset(const std::string& spec, bool train) {
  const auto colon = spec.find(':');
  const std::string name = spec.substr(0, colon);
  const bool has_arg = colon != std::string::npos;
  const std::string arg = has_arg ? spec.substr(colon + 1) : "";
  auto need_dir = [&] {
    require(has_arg && !arg.empty(), "data spec '" + spec + "': " + name + " needs a folder (" +
                                         name + ":DIR)");
    return arg;
  };
  if (name == "fashion-mnist")
    return open_mnist_dir(has_arg ? arg : kDefaultFashionMnistDir, train, name);
  if (name == "mnist") return open_mnist_dir(need_dir(), train, name);
  if (name == "cifar10") return open_cifar(need_dir(), 10, train);
  if (name == "cifar100") return open_cifar(need_dir(), 100, train);
  if (name == "folder") return open_image_folder(need_dir(), train);
  if (name == "synthetic") {
    const int64_t n = has_arg ? parse_count(arg, spec) : 2048;
    return std::make_unique<SyntheticDataset>(train ? n : n / 4, train ? 1 : 2);
  }
  throw InputError("data spec '" + spec +
                   "': unknown dataset (use fashion-mnist[:DIR], mnist:DIR, cifar10:DIR, "
                   "cifar100:DIR, folder:DIR or synthetic[:N])");
}

}  // namespace vitnas::data
