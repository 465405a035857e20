#include "search/finetune_job.h"

#include <filesystem>
#include <memory>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/io.h"
#include "models/weights.h"

namespace vitnas {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

FinetuneNetwork front_network(const std::string& front_dir, const json& row, const std::string& role) {
  FinetuneNetwork n;
  n.arch = load_arch(front_dir + "/" + row.at("file").get<std::string>());
  n.arch.name = row.at("name").get<std::string>();
  n.role = role;
  n.from_supernet = true;
  n.searched = row;
  return n;
}

// What a run directory's training gives for the report: its last metrics line.
json trained_row(const FinetuneNetwork& n, bool from_weights, const TrainResult& t,
                 const std::string& dir) {
  json row = {{"name", n.arch.name},
              {"role", n.role},
              {"init", from_weights ? "supernet" : "scratch"},
              {"dir", dir},
              {"epochs", t.last.value("epoch", int64_t{0})},
              {"val_top1", t.last.value("val_top1", -1.0)},
              {"test_top1", t.last.value("test_top1", -1.0)},
              {"seconds", t.seconds}};
  for (const char* key : {"accuracy", "latency", "params", "macs"})
    row[std::string("searched_") + key] = n.searched.is_object() ? n.searched.value(key, json()) : json();
  return row;
}

std::string csv_text(const json& rows) {
  std::ostringstream out;
  out << "name,role,init,searched_accuracy,searched_latency,params,macs,epochs,val_top1,test_top1,seconds\n";
  auto cell = [](const json& v) { return v.is_null() ? std::string() : v.dump(); };
  for (const auto& r : rows)
    out << r["name"].get<std::string>() << ',' << r["role"].get<std::string>() << ','
        << r["init"].get<std::string>() << ',' << cell(r["searched_accuracy"]) << ','
        << cell(r["searched_latency"]) << ',' << cell(r["searched_params"]) << ','
        << cell(r["searched_macs"]) << ',' << r["epochs"] << ',' << r["val_top1"] << ','
        << r["test_top1"] << ',' << r["seconds"] << '\n';
  return out.str();
}

}  // namespace

std::vector<FinetuneNetwork> front_networks(const std::string& front_dir, const std::string& which) {
  const json front = read_json_file(front_dir + "/front.json");
  std::vector<FinetuneNetwork> out;
  auto listed = [&](const std::string& name) {
    for (const auto& n : out)
      if (n.arch.name == name) return true;
    return false;
  };
  try {
    const std::string unit = front.at("unit").get<std::string>();
    if (which == "budgets") {
      for (const auto& b : front.at("budgets")) {
        if (b.at("name").is_null()) continue;
        const std::string role = "budget " + json(b.at("budget")).dump() + " " + unit;
        const std::string name = b.at("name").get<std::string>();
        if (listed(name)) {  // one network picked under several budgets is trained once
          for (auto& n : out)
            if (n.arch.name == name) n.role += ", " + json(b.at("budget")).dump() + " " + unit;
          continue;
        }
        out.push_back(front_network(front_dir, b, role));
      }
      require(!out.empty(), front_dir + "/front.json has no budget picks (a --pareto search, or no "
                                        "network under any budget): give --networks front or names");
    } else if (which == "front") {
      for (const auto& r : front.at("front")) out.push_back(front_network(front_dir, r, "front"));
    } else {
      std::stringstream ss(which);
      for (std::string name; std::getline(ss, name, ',');) {
        if (name.empty() || listed(name)) continue;
        const json* row = nullptr;
        for (const char* rows : {"front", "budgets"})
          for (const auto& r : front.at(rows))
            if (r.value("name", json()) == name) row = &r;
        require(row != nullptr, "--networks: " + name + " is not a network of " + front_dir +
                                    "/front.json (its front and budget picks)");
        out.push_back(front_network(front_dir, *row, "chosen"));
      }
    }
  } catch (const json::exception& e) {
    throw InputError(front_dir + "/front.json: not a front of `vitnas search` (" + e.what() + ")");
  }
  return out;
}

json run_finetune(const std::vector<FinetuneNetwork>& networks, const FinetuneOptions& o,
                  SupernetDir* supernet, const TrainRuntime& runtime, const std::string& out_dir,
                  bool resume, ProcessGroup& group,
                  const std::function<ProgressCallback(const std::string&)>& progress) {
  require(!networks.empty(), "no networks to train");
  const fs::path out(out_dir);
  auto recipe_of = [&](const FinetuneNetwork& n) {
    TrainRecipe r = o.recipe;
    r.arch = n.arch;
    r.init_weights = n.from_supernet && !o.from_scratch
                         ? (out / n.arch.name / "init" / "weights.safetensors").string()
                         : "";
    return r;
  };
  // Everything is checked before the first file is written.
  std::set<std::string> names;
  for (const auto& n : networks) {
    require(names.insert(n.arch.name).second,
            "two networks are named " + n.arch.name + ": each trains in a directory of its name");
    require(!n.arch.name.empty() && n.arch.name.find_first_of("/\\") == std::string::npos &&
                n.arch.name != "." && n.arch.name != "..",
            "network name '" + n.arch.name + "' cannot name a directory");
    if (n.from_supernet && !o.from_scratch) {
      require(supernet != nullptr, n.arch.name + " starts from the supernet's weights: give "
                                   "--supernet DIR (the search's), or --from-scratch");
      if (const auto why = outside(supernet->space, n.arch))
        throw InputError(n.arch.name + " is not a network of the supernet's space " +
                         supernet->space.name + ": " + *why);
    }
    validate(recipe_of(n));
    require(resume || !fs::exists(out / n.arch.name / "checkpoint.safetensors"),
            (out / n.arch.name).string() + " holds a training run: pass --resume to continue, or "
                                           "choose another --out");
  }
  require(resume || !fs::exists(out / "finetune.json"),
          (out / "finetune.json").string() + " exists: pass --resume to continue, or choose another --out");

  json recipe = recipe_to_json(recipe_of(networks.front()));  // the shared part
  recipe.erase("arch");
  recipe.erase("init_weights");
  recipe["from_scratch"] = o.from_scratch;
  recipe["bn_batches"] = o.bn_batches;

  std::unique_ptr<SubnetEvaluator> extractor;  // made once, when a network first needs it
  json rows = json::array();
  for (const auto& n : networks) {
    const TrainRecipe r = recipe_of(n);
    const fs::path dir = out / n.arch.name;
    if (!r.init_weights.empty() && !fs::exists(r.init_weights)) {
      if (!extractor)
        extractor = std::make_unique<SubnetEvaluator>(make_evaluator(*supernet, o.bn_batches, 2, 1));
      const Classifier model = extractor->extract(n.arch);
      fs::create_directories(dir / "init");
      save_arch(n.arch, (dir / "init" / "arch.json").string());
      save_weights(*model, r.init_weights, {{"arch", n.arch.name}, {"supernet", supernet->path}});
    }
    const TrainResult t = run_training(r, runtime, dir.string(), /*resume=*/true, group,
                                       progress(n.arch.name));
    rows.push_back(trained_row(n, !r.init_weights.empty(), t, dir.string()));
    const json result = {{"supernet", supernet != nullptr ? json(supernet->path) : json()},
                         {"recipe", recipe},
                         {"networks", rows}};
    write_json_file_atomic((out / "finetune.json").string(), result);
    write_file_atomic((out / "finetune.csv").string(), csv_text(rows));
  }
  return read_json_file((out / "finetune.json").string());
}

}  // namespace vitnas
