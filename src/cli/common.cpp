#include "cli/common.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <filesystem>
#include <set>
#include <sstream>
#include <thread>

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "core/error.h"
#include "core/io.h"
#include "models/weights.h"

namespace vitnas::cli {

void add_common_options(CLI::App& sub, CommonOptions& common) {
  sub.add_option("--log-level", common.log_level, "trace|debug|info|warn|error|off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  sub.add_flag("--json", common.json, "machine-readable JSON on stdout");
  sub.add_option("--config", "JSON file of flags ({\"flag-name\": value}); flags given on the "
                             "command line override it");
}

void apply_common_options(const CommonOptions& common) {
  spdlog::set_level(spdlog::level::from_str(common.log_level));
}

namespace {

namespace fs = std::filesystem;

// Flags whose values name files or folders. In a config file their relative paths are relative
// to the config's folder (as a measured-points file's arch paths are), so a config works from
// any working directory. List items (--arch m0,a.json) resolve one by one; presets and the
// supernet's "largest"/"smallest" are names, not paths; --data resolves the folder after
// "kind:" ("fashion-mnist" alone and "synthetic:N" name no folder).
const std::set<std::string> kPathFlags = {
    "arch", "weights", "table", "space", "out", "input", "output", "csv", "measured", "supernet",
    "teacher", "teacher-weights", "init-weights", "costs", "mark", "data"};

std::string resolve_path(const fs::path& dir, const std::string& key, const std::string& value) {
  auto resolve = [&](const std::string& item) {
    if (item.empty() || is_preset(item) || item == "largest" || item == "smallest" ||
        fs::path(item).is_absolute())
      return item;
    return (dir / item).lexically_normal().string();
  };
  if (key == "data") {
    const size_t colon = value.find(':');
    if (colon == std::string::npos || value.compare(0, colon, "synthetic") == 0) return value;
    return value.substr(0, colon + 1) + resolve(value.substr(colon + 1));
  }
  std::string out;
  std::stringstream items(value);
  for (std::string item; std::getline(items, item, ',');)
    out += (out.empty() ? "" : ",") + resolve(item);
  return out;
}

// JSON value -> the command-line tokens of one flag ("--batch", "32"); false flags vanish.
std::vector<std::string> flag_tokens(const std::string& file, const CLI::App& sub,
                                     const std::string& key, const nlohmann::json& value) {
  const CLI::Option* opt = sub.get_option_no_throw("--" + key);
  require(opt != nullptr && key != "config",
          file + ": unknown key '" + key + "' for '" + sub.get_name() + "' (see --help)");
  const std::string flag = "--" + key;
  auto scalar = [&](const nlohmann::json& v) -> std::string {
    if (v.is_string() && kPathFlags.count(key) > 0)
      return resolve_path(fs::path(file).parent_path(), key, v.get<std::string>());
    if (v.is_string()) return v.get<std::string>();
    require(v.is_number() || v.is_boolean(),
            file + ": '" + key + "' must be a string, number or boolean");
    return v.dump();
  };
  if (opt->get_items_expected_max() == 0) {  // a flag without a value (CLI11 2: expected(0))
    require(value.is_boolean(), file + ": '" + key + "' is a flag: use true or false");
    return value.get<bool>() ? std::vector<std::string>{flag} : std::vector<std::string>{};
  }
  std::vector<std::string> tokens{flag};
  if (value.is_array()) {
    for (const auto& v : value) tokens.push_back(scalar(v));
  } else {
    tokens.push_back(scalar(value));
  }
  return tokens;
}

}  // namespace

std::vector<std::string> expand_config(const CLI::App& root, std::vector<std::string> args) {
  // The (possibly nested: `latency predict`) subcommand the flags belong to.
  const CLI::App* sub = &root;
  size_t first = 0;  // first argument after the subcommand names
  while (first < args.size()) {
    const CLI::App* next = nullptr;
    for (const auto* s : sub->get_subcommands({}))
      if (s->get_name() == args[first]) next = s;
    if (next == nullptr) break;
    sub = next;
    ++first;
  }
  if (sub == &root) return args;
  for (size_t i = first; i < args.size(); ++i) {
    std::string file;
    if (args[i] == "--config" && i + 1 < args.size()) {
      file = args[i + 1];
      args.erase(args.begin() + long(i), args.begin() + long(i) + 2);
    } else if (args[i].rfind("--config=", 0) == 0) {
      file = args[i].substr(9);
      args.erase(args.begin() + long(i));
    } else {
      continue;
    }
    const auto j = read_json_file(file);
    require(j.is_object(), file + ": a config must be a JSON object of flag names");
    // Flags given on the command line win: their config entries are dropped, not repeated
    // (so list-valued flags such as bench's --arch are replaced, not extended).
    std::set<std::string> given;
    for (const auto& a : args)
      if (a.rfind("--", 0) == 0) given.insert(a.substr(2, a.find('=') - 2));
    std::vector<std::string> tokens;
    for (const auto& [key, value] : j.items()) {
      auto t = flag_tokens(file, *sub, key, value);  // validates the key even when overridden
      if (given.count(key) > 0) continue;
      tokens.insert(tokens.end(), t.begin(), t.end());
    }
    args.insert(args.begin() + long(first), tokens.begin(), tokens.end());
    break;
  }
  return args;
}

torch::Device parse_device(const std::string& name) {
  torch::Device device = torch::kCPU;
  try {
    device = torch::Device(name);
  } catch (const c10::Error&) {
    throw InputError("--device: unknown device '" + name + "' (use cpu or cuda[:N])");
  }
  require(device.is_cpu() || device.is_cuda(), "--device: use cpu or cuda[:N], got " + name);
  if (device.is_cuda())
    require(torch::cuda::is_available(),
            "--device " + name + ": this LibTorch build or machine has no CUDA device");
  return device;
}

int machine_cores() { return std::max(1, int(std::thread::hardware_concurrency())); }

void set_threads(int threads, const std::string& what) {
  require(threads >= 1, what + ": threads must be >= 1, got " + std::to_string(threads));
  require(threads <= machine_cores(),
          what + ": " + std::to_string(threads) + " threads, but this machine has " +
              std::to_string(machine_cores()) + " hardware threads (use a table made here)");
  torch::set_num_threads(threads);
}

Classifier load_model(const std::string& arch, const std::string& weights, uint64_t seed) {
  const ArchSpec spec = load_arch(arch);
  torch::manual_seed(seed);
  auto model = build_model(spec);
  if (!weights.empty()) load_weights(*model, weights);
  return model;
}

namespace {
double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

Progress::Progress(std::string label)
    : label_(std::move(label)), terminal_(::isatty(STDERR_FILENO) != 0), start_(now_s()) {}

Progress::~Progress() {
  if (terminal_ && last_draw_ >= 0) std::fprintf(stderr, "\n");
}

void Progress::update(double fraction, const std::string& status) {
  const double t = now_s();
  const double eta = fraction > 0 ? (t - start_) * (1.0 - fraction) / fraction : 0.0;
  if (!terminal_) {  // no redrawing: a line now and then, the first after 10 s
    if (t - std::max(start_, last_draw_) < 10.0 || fraction >= 1.0) return;
    last_draw_ = t;
    std::fprintf(stderr, "%s %3d%% ETA %.0fs %s\n", label_.c_str(), int(fraction * 100), eta,
                 status.c_str());
    std::fflush(stderr);
    return;
  }
  if (last_draw_ >= 0 && t - last_draw_ < 0.2 && fraction < 1.0) return;
  last_draw_ = t;
  constexpr int kWidth = 30;
  const int filled = int(fraction * kWidth);
  std::string bar(size_t(filled), '=');
  if (filled < kWidth) bar += '>' + std::string(size_t(kWidth - filled - 1), ' ');
  std::fprintf(stderr, "\r%s [%s] %3d%% ETA %.0fs %s ", label_.c_str(), bar.c_str(),
               int(fraction * 100), eta, status.c_str());
  std::fflush(stderr);
}

void print_json(const nlohmann::json& j) { std::cout << j.dump(2) << std::endl; }

namespace {
std::vector<std::string>& recorded_command_line() {
  static std::vector<std::string> argv;
  return argv;
}
}  // namespace

void set_command_line(std::vector<std::string> argv) { recorded_command_line() = std::move(argv); }
const std::vector<std::string>& command_line() { return recorded_command_line(); }

}  // namespace vitnas::cli
