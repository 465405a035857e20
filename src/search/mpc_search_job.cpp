#include "search/mpc_search_job.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include <spdlog/spdlog.h>

#include "core/error.h"
#include "core/io.h"
#include "core/json_read.h"
#include "core/svg_plot.h"
#include "models/classifier.h"
#include "models/kind_search.h"
#include "models/weights.h"
#include "profile/latency_model.h"
#include "profile/mpc_model.h"
#include "search/mpc_kinds.h"
#include "train/bn_recalibration.h"
#include "train/evaluate.h"

namespace vitnas {

namespace fs = std::filesystem;

namespace {

std::string mu_name(double mu) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "mu%g", mu);
  return buf;
}

ArchSpec all_kinds(ArchSpec spec, AttentionKind kind, const std::string& name) {
  for (AttentionKind* k : head_kinds(spec)) *k = kind;
  spec.name = name;
  return spec;
}

// The search phase's alphas or betas, from its run directory (null, a layer already linear: NaN).
// InputError naming the file and the entry for anything but an array of numbers and nulls.
std::vector<double> searched_values(const fs::path& dir, const char* key) {
  const std::string path = (dir / "alphas.json").string();
  const nlohmann::json j = read_json_file(path);
  std::vector<double> out;
  try {
    if (!j.is_object() || !j.contains(key)) return out;  // no betas: no linearisation search
    const nlohmann::json& values = json_read::as_array(j.at(key), key);
    for (size_t i = 0; i < values.size(); ++i)
      out.push_back(values[i].is_null()
                        ? std::nan("")
                        : json_read::as_number(values[i], json_read::index_path(key, i)));
  } catch (const InputError& e) {
    throw InputError(path + ": " + e.what());
  }
  return out;
}

struct Trained {
  double test_top1 = -1;  // -1: not retrained
};

// Trains `arch` from scratch into dir (the retraining of MPCViT) and returns its test top-1.
Trained retrain(const MpcSearchOptions& o, const ArchSpec& arch, const fs::path& dir,
                const std::string& teacher_path, const TrainRuntime& runtime, bool resume,
                ProcessGroup& group, const ProgressCallback& progress) {
  TrainRecipe r = o.recipe;
  r.arch = arch;
  r.epochs = o.retrain_epochs;
  r.kind_search.reset();
  if (!o.teacher_weights.empty()) {
    r.teacher = teacher_path;
    r.teacher_weights = o.teacher_weights;
  } else {
    r.distill_token_beta = 0;  // nothing to distil from
  }
  const TrainResult t = run_training(r, runtime, dir.string(), resume, group, progress);
  return {t.last.value("test_top1", -1.0)};
}

void write_front_files(const fs::path& dir, const nlohmann::json& front) {
  write_json_file_atomic((dir / "front.json").string(), front);
  std::ostringstream csv;
  csv << "name,placement,mu,relu_softmax_heads,softmax_heads,heads,linear_layers,mpc_seconds,"
         "test_top1,inherited_top1,arch\n";
  for (const char* rows : {"networks", "baselines"})
    for (const auto& n : front.at(rows))
      csv << n.at("name").get<std::string>() << ',' << n.at("placement").get<std::string>() << ','
          << n.at("mu").get<double>() << ',' << n.at("relu_softmax_heads").get<int>() << ','
          << n.at("softmax_heads").get<int>() << ',' << n.at("heads").get<int>() << ',' << n.at("linear_layers").get<int>() << ','
          << n.at("mpc_seconds").get<double>() << ',' << n.at("test_top1").get<double>() << ','
          << n.at("inherited_top1").get<double>() << ',' << n.at("arch").get<std::string>()
          << '\n';
  write_file_atomic((dir / "front.csv").string(), csv.str());

  Plot plot;
  plot.title = "MPC-aware head-kind search: " + front.at("arch").get<std::string>();
  plot.x_label = "MPC latency (s, " + front.at("link").get<std::string>() + ")";
  plot.y_label = "test top-1 (%)";
  auto series = [](const char* label, const char* color) {
    PlotSeries s;
    s.label = label;
    s.color = color;
    return s;
  };
  PlotSeries searched = series("searched", "#1f77b4"),
             random = series("random placement", "#ff7f0e"),
             baseline = series("all one kind", "#2ca02c");
  searched.line = true;
  for (const char* rows : {"networks", "baselines"})
    for (const auto& n : front.at(rows)) {
      if (n.at("test_top1").get<double>() < 0) continue;
      const std::string placement = n.at("placement");
      PlotSeries& s = placement == "searched" ? searched : placement == "random" ? random : baseline;
      s.x.push_back(n.at("mpc_seconds").get<double>());
      s.y.push_back(n.at("test_top1").get<double>());
      if (&s == &baseline) s.point_labels.push_back(n.at("name"));
    }
  for (PlotSeries* s : {&searched, &random, &baseline})
    if (!s->x.empty()) plot.series.push_back(*s);
  for (const auto& b : front.at("baselines"))  // the seconds, also of baselines not retrained
    plot.markers.push_back({b.at("mpc_seconds").get<double>(), b.at("name").get<std::string>()});
  write_file_atomic((dir / "front.svg").string(), render_svg(plot));
}

// The one-shot measure of NAS: a binarised network with the search's weights, evaluated on the
// test set before any retraining. Searched and random placements inherit the same weights, so
// their difference is the placement's alone. BatchNorm (efficientvit) is recalibrated first: its
// statistics were gathered under the mixed maps.
class InheritedAccuracy {
 public:
  InheritedAccuracy(const TrainRecipe& search, const TrainRuntime& runtime,
                    const fs::path& weights)
      : weights_(without_search_parameters(safetensors::load(weights.string()).tensors)),
        source_(weights.string()) {
    const Datasets data = open_datasets(search);
    const int64_t batch = std::max<int64_t>(search.batch_size, 256);
    const torch::Device device(runtime.device);
    test_ = load_batches(data.test, transform_options(search, data.name, false), batch, -1,
                         std::nullopt, runtime.loader_threads, device);
    if (search.arch.family == Family::EfficientViT)
      calibration_ = load_batches(data.train, transform_options(search, data.name, false), batch,
                                  search.bn_batches, search.seed, runtime.loader_threads, device);
    device_ = device;
  }

  double operator()(const ArchSpec& arch) const {
    Classifier net = build_model(arch);
    load_state_dict(*net, weights_, source_);
    net->to(device_);
    auto forward = [&](const torch::Tensor& x) { return net->forward(x); };
    if (calibration_.count() > 0) recalibrate(*net, forward, calibration_.images);
    return evaluate(*net, forward, test_).top1;
  }

 private:
  safetensors::TensorList weights_;
  std::string source_;
  TensorBatches test_, calibration_;
  torch::Device device_ = torch::kCPU;
};

}  // namespace

nlohmann::json run_mpc_search(const MpcSearchOptions& o, const LatencyTable& table,
                              const TrainRuntime& runtime, const std::string& out_dir,
                              bool resume, ProcessGroup& group,
                              const std::function<ProgressCallback(const std::string&)>& progress) {
  // ---- every input checked before the first write ----
  require(table.device.kind == DeviceKind::mpc && table.mpc,
          "--table: search-mpc needs an mpc table (vitnas profile --device mpc), this one is " +
              to_string(table.device.kind));
  require(!o.mu.empty(), "--mu: give at least one ratio in (0, 1]");
  const ArchSpec& arch = o.recipe.arch;
  const int heads = static_cast<int>(head_kinds(arch).size());
  require(heads > 0, arch.name + " has no attention heads to search");
  std::vector<int> counts;
  for (double mu : o.mu) counts.push_back(relu_softmax_heads(heads, mu));
  require(group.world_size() == 1, "search-mpc runs in one process (--nproc 1)");
  require(o.random_baselines >= 0, "--random-baselines: must be >= 0");
  require(o.teacher_weights.empty() || o.retrain_epochs > 0,
          "--teacher-weights is for the retraining: give --retrain-epochs too");
  require(!o.retrain_baselines || o.retrain_epochs > 0,
          "--retrain-baselines: give --retrain-epochs too");

  TrainRecipe search = o.recipe;
  search.teacher.clear();  // the search learns from the labels (and the MPC cost)
  search.teacher_weights.clear();
  search.distill_token_beta = 0;
  require(o.linearise >= 0, "--linearise: must be >= 0");
  search.kind_search = TrainRecipe::KindSearch{
      o.lambda, o.cost, head_seconds(table, arch, AttentionKind::ReluSoftmax),
      head_seconds(table, arch, AttentionKind::Scaling), {}, {}};
  if (o.softmax_candidates)
    search.kind_search->softmax_s = head_seconds(table, arch, AttentionKind::Softmax);
  if (o.linearise > 0) {
    require(arch.family == Family::ViT, "--linearise: MPCViT+'s linearisation is for vit networks");
    search.kind_search->activation_s = activation_seconds(table, arch);
    // Checked now, not after the search: enough layers with a nonlinear MLP.
    linearise_layers(arch, std::vector<double>(arch.vit.layers.size(), 1.0), o.linearise);
  }
  validate(search);

  const fs::path dir(out_dir);
  require(resume || !fs::exists(dir / "search" / "checkpoint.safetensors"),
          (dir / "search").string() + " holds a search: pass --resume to continue it, or choose "
                                      "another --out");
  const ArchSpec teacher = all_kinds(arch, AttentionKind::Softmax, arch.name + "_softmax");
  const std::string teacher_path = (dir / "teacher_arch.json").string();
  if (!o.teacher_weights.empty()) {
    // A teacher of another shape fails here, naming its file, not after the search.
    Classifier t = build_model(teacher);
    load_weights(*t, o.teacher_weights);
  }
  fs::create_directories(dir);
  save_arch(teacher, teacher_path);

  // ---- search ----
  spdlog::info("search-mpc: searching the kinds of {}'s {} heads ({} epochs, lambda {}, cost {})",
               arch.name, heads, search.epochs, o.lambda, o.cost);
  run_training(search, runtime, (dir / "search").string(), resume, group, progress("search"));
  const std::vector<double> alphas = searched_values(dir / "search", "alphas");
  const std::vector<double> betas = searched_values(dir / "search", "betas");
  const std::vector<double> gammas = searched_values(dir / "search", "gammas");
  require(gammas.empty() == !o.softmax_candidates,
          (dir / "search" / "alphas.json").string() + ": a search " +
              (o.softmax_candidates ? "without" : "with") +
              " --softmax-candidates: rerun it with the same flags, or choose another --out");
  // MPCViT+: the same layers linear in every network of the front (the searched betas').
  auto linearised = [&](ArchSpec a) {
    return o.linearise > 0 ? linearise_layers(a, betas, o.linearise) : a;
  };

  // ---- binarise, retrain ----
  const InheritedAccuracy inherited(search, runtime, dir / "search" / "weights.safetensors");
  const auto model = make_latency_model(table);
  nlohmann::json networks = nlohmann::json::array();
  auto add = [&](nlohmann::json& rows, const ArchSpec& a, const std::string& placement,
                 double mu, const fs::path& sub, uint64_t seed, bool train) {
    const int count = count_kinds(a, AttentionKind::ReluSoftmax);
    fs::create_directories(sub);
    save_arch(a, (sub / "arch.json").string());
    Trained t;
    if (train) {
      spdlog::info("search-mpc: retraining {} ({} of {} heads RSAttn)", a.name, count, heads);
      t = retrain(o, a, sub, teacher_path, runtime, resume, group, progress(a.name));
    }
    int linear = 0;
    for (const auto& l : a.vit.layers) linear += l.act == Activation::Identity;
    nlohmann::json n = {{"name", a.name},
                        {"placement", placement},
                        {"mu", mu},
                        {"relu_softmax_heads", count},
                        {"softmax_heads", count_kinds(a, AttentionKind::Softmax)},
                        {"heads", heads},
                        {"linear_layers", linear},
                        {"mpc_seconds", model->cost(a)},
                        {"test_top1", t.test_top1},
                        {"inherited_top1", inherited(a)},
                        {"arch", fs::relative(sub / "arch.json", dir).string()}};
    if (placement == "random") n["seed"] = seed;
    rows.push_back(n);
  };
  const bool retraining = o.retrain_epochs > 0;
  for (size_t i = 0; i < o.mu.size(); ++i) {
    ArchSpec a = linearised(binarise_kinds(arch, alphas, counts[i], gammas));
    a.name = arch.name + "_" + mu_name(o.mu[i]);
    add(networks, a, "searched", o.mu[i], dir / mu_name(o.mu[i]), 0, retraining);
    for (int s = 1; s <= o.random_baselines; ++s) {
      // As many softmax and RSAttn heads as the searched network, at random positions.
      ArchSpec r = linearised(random_kinds(arch, counts[i], uint64_t(s),
                                           count_kinds(a, AttentionKind::Softmax)));
      r.name = a.name + "_random" + std::to_string(s);
      add(networks, r, "random", o.mu[i],
          dir / (mu_name(o.mu[i]) + "_random" + std::to_string(s)), uint64_t(s), retraining);
    }
  }

  // MPCViT's table's other rows; not linearised (they are the networks the user starts from).
  nlohmann::json baselines = nlohmann::json::array();
  for (AttentionKind k : kAttentionKinds) {
    const ArchSpec b = all_kinds(arch, k, "all-" + to_string(k));
    add(baselines, b, "baseline", k == AttentionKind::ReluSoftmax ? 1.0 : 0.0, dir / b.name, 0,
        retraining && o.retrain_baselines);
  }
  const nlohmann::json front = {{"arch", arch.name},
                                {"heads", heads},
                                {"link", table.mpc->link.name},
                                {"calibrated", table.mpc->calibration.has_value()},
                                {"lambda", o.lambda},
                                {"cost", o.cost},
                                {"alphas", alphas},
                                {"softmax_candidates", o.softmax_candidates},
                                {"linearise", o.linearise},
                                {"networks", networks},
                                {"baselines", baselines}};
  if (group.is_main()) write_front_files(dir, front);
  return front;
}

}  // namespace vitnas
