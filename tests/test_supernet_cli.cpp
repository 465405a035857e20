// `vitnas supernet train|eval|extract` end to end on small synthetic data: a killed run resumes
// to the uninterrupted weights byte for byte, the extracted subnet is a plain network the other
// commands accept, and bad input is a one-line error that overwrites nothing.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <sstream>

#include <torch/torch.h>

#include "core/search_space.h"
#include "models/elastic/supernet.h"
#include "models/weights.h"
#include "train/supernet_trainer.h"
#include "cli_runner.h"
#include "torch_fixtures.h"

using namespace vitnas;
using namespace vitnas::test;

namespace {

namespace fs = std::filesystem;

std::string space_path(const std::string& name) {
  return std::string(VITNAS_SOURCE_DIR) + "/experiments/spaces/" + name + ".json";
}

// 2 epochs of 512 synthetic 32x32 images of small.json's supernet, 1 compute thread (bitwise
// reproducible), 2 recalibration batches.
std::string train_args(const std::string& out, const std::string& extra = "") {
  return "supernet train --space " + q(space_path("small")) +
         " --data synthetic:512 --epochs 2 --batch 32 --lr 3e-3 --bn-batches 2 --threads 1 "
         "--loader-threads 2 --no-progress --log-level warn --out " + q(out) + " " + extra;
}

// The supernet of a finished run, trained once for the tests of this file.
const std::string& trained() {
  static const std::string dir = [] {
    const std::string d = scratch_path("supernet_trained");
    const CliRun r = run_cli(train_args(d, "--json"));
    INFO(r.err);
    REQUIRE(r.code == 0);
    return d;
  }();
  return dir;
}

}  // namespace

TEST_CASE("cli supernet train: run directory, metrics of the largest and smallest subnets",
          "[supernet][cli]") {
  const std::string dir = trained();
  for (const char* f : {"space.json", "recipe.json", "supernet.safetensors", "metrics.jsonl",
                        "checkpoint.safetensors"})
    CHECK(fs::exists(dir + "/" + f));
  std::istringstream in(read_text(dir + "/metrics.jsonl"));
  int lines = 0;
  for (std::string line; std::getline(in, line); ++lines) {
    const auto j = nlohmann::json::parse(line);
    for (const char* k : {"largest_val_top1", "smallest_val_top1", "train_loss"}) CHECK(j.contains(k));
  }
  CHECK(lines == 2);
  CHECK(space_from_json(nlohmann::json::parse(read_text(dir + "/space.json"))).name == "small");
}

TEST_CASE("cli supernet train: killed at any moment, --resume ends byte-identical",
          "[supernet][cli]") {
  const std::string killed = scratch_path("supernet_killed");
  const std::string cmd = "'" + std::string(VITNAS_CLI_PATH) + "' " + train_args(killed) +
                          " 2>/dev/null & pid=$!; while [ ! -f '" + killed +
                          "/checkpoint.safetensors' ] && kill -0 $pid 2>/dev/null; do sleep 0.02; done; { kill -9 $pid; wait $pid; } 2>/dev/null";
  CHECK(std::system(cmd.c_str()) != 0);
  const CliRun resumed = run_cli(train_args(killed, "--resume --json"));
  INFO(resumed.err);
  REQUIRE(resumed.code == 0);
  CHECK(resumed.out_json()["first_epoch"].get<int>() >= 1);
  CHECK(read_text(killed + "/supernet.safetensors") == read_text(trained() + "/supernet.safetensors"));
  CHECK(read_text(killed + "/metrics.jsonl").size() > 0);
}

TEST_CASE("sandwich: largest, smallest, then random subnets that depend on (seed, step) only",
          "[supernet]") {
  TrainRecipe r;
  r.space = load_space(space_path("small"));
  r.arch = largest(*r.space);
  r.data = "synthetic:64";
  r.random_subnets = 3;
  ProcessGroup group(DistributedEnv{}, torch::kCPU);
  SupernetTrainer a(r, TrainRuntime{}, group, 10), b(r, TrainRuntime{}, group, 10);
  const auto s5 = a.sandwich(5);
  REQUIRE(s5.size() == 5);
  CHECK(same_network(s5[0], largest(*r.space)));
  CHECK(same_network(s5[1], smallest(*r.space)));
  const auto again = b.sandwich(5), s6 = a.sandwich(6);
  bool differs = false;
  for (size_t i = 2; i < 5; ++i) {
    CHECK(same_network(s5[i], again[i]));
    differs = differs || !same_network(s5[i], s6[i]);
  }
  CHECK(differs);
}

TEST_CASE("cli supernet eval and extract: inherited accuracy, a standalone network", "[supernet][cli]") {
  const std::string dir = trained();
  const CliRun eval = run_cli("supernet eval --supernet " + q(dir) +
                              " --arch largest,smallest --json --log-level warn");
  INFO(eval.err);
  REQUIRE(eval.code == 0);
  const auto rows = eval.out_json()["subnets"];
  REQUIRE(rows.size() == 2);
  CHECK(rows[0]["images"].get<int>() > 0);

  const std::string out = scratch_path("supernet_extract");
  const CliRun ex = run_cli("supernet extract --supernet " + q(dir) + " --arch largest --out " + q(out) +
                            " --log-level warn");
  INFO(ex.err);
  REQUIRE(ex.code == 0);
  // info and a fine-tuning run accept the result; its first epoch starts from the supernet's
  // accuracy, not from scratch (init-weights really loaded).
  CHECK(run_cli("info --arch " + q(out + "/arch.json")).code == 0);
  const std::string tuned = scratch_path("supernet_tuned");
  const CliRun t = run_cli("train --arch " + q(out + "/arch.json") + " --init-weights " +
                           q(out + "/weights.safetensors") +
                           " --data synthetic:512 --epochs 1 --warmup-epochs 0 --lr 1e-9 --min-lr 0 --warmup-lr 0 "
                           "--batch 32 --threads 1 --no-progress --log-level warn --json --out " + q(tuned));
  INFO(t.err);
  REQUIRE(t.code == 0);
  // lr ~ 0: the fine-tuned weights are the extracted ones, up to the BN statistics.
  auto w0 = safetensors::load(out + "/weights.safetensors").tensors;
  auto w1 = safetensors::load(tuned + "/weights.safetensors").tensors;
  REQUIRE(w0.size() == w1.size());
  for (size_t i = 0; i < w0.size(); ++i)
    if (w0[i].first.find("running") == std::string::npos && w0[i].second.is_floating_point())
      CHECK(max_abs_diff(w0[i].second, w1[i].second) < 1e-6);
}

TEST_CASE("cli supernet: bad input is a one-line error that overwrites nothing", "[supernet][cli]") {
  const std::string dir = trained();
  // A subnet outside the space, named by its JSON path.
  ArchSpec a = largest(load_space(space_path("small")));
  a.efficientvit.stages[0].blocks[0].ffn_after = {48};
  const std::string outside_path = scratch_path("outside.json");
  save_arch(a, outside_path);
  const CliRun e1 = run_cli("supernet eval --supernet " + q(dir) + " --arch " + q(outside_path));
  CHECK(e1.is_input_error());
  CHECK_THAT(e1.err, Catch::Contains("stages[0].blocks[0].ffn_after[0]"));

  // A supernet directory whose weights are another space's.
  const std::string other = scratch_path("supernet_other");
  fs::create_directories(other);
  fs::copy_file(dir + "/recipe.json", other + "/recipe.json");
  fs::copy_file(space_path("fmnist"), other + "/space.json");
  fs::copy_file(dir + "/supernet.safetensors", other + "/supernet.safetensors");
  const CliRun e2 = run_cli("supernet eval --supernet " + q(other) + " --arch largest");
  CHECK(e2.is_input_error());
  CHECK_THAT(e2.err, Catch::Contains("supernet.safetensors"));

  // A truncated checkpoint: --resume refuses it and leaves every file as it was.
  const std::string cut = scratch_path("supernet_cut");
  fs::create_directories(cut);
  for (const char* f : {"space.json", "recipe.json", "supernet.safetensors", "metrics.jsonl"})
    fs::copy_file(dir + "/" + f, cut + "/" + f);
  const std::string ckpt = read_text(dir + "/checkpoint.safetensors");
  write_text(cut + "/checkpoint.safetensors", ckpt.substr(0, ckpt.size() / 2));
  const std::string weights = read_text(cut + "/supernet.safetensors");
  const CliRun e3 = run_cli(train_args(cut, "--resume"));
  CHECK(e3.is_input_error());
  CHECK_THAT(e3.err, Catch::Contains("checkpoint.safetensors"));
  CHECK(read_text(cut + "/supernet.safetensors") == weights);

  // The supernet of another space in a run directory: --resume names the difference.
  const CliRun e4 = run_cli("supernet train --space " + q(space_path("fmnist")) +
                            " --data fashion-mnist --epochs 2 --out " + q(dir) + " --resume");
  CHECK(e4.is_input_error());

  // An evaluation split larger than the memory (2 million validation images of 20 million held
  // for the run) is refused before any image is loaded.
  const std::string huge = scratch_path("supernet_huge_data");
  fs::create_directories(huge);
  for (const char* f : {"space.json", "supernet.safetensors"}) fs::copy_file(dir + "/" + f, huge + "/" + f);
  nlohmann::json recipe = nlohmann::json::parse(read_text(dir + "/recipe.json"));
  recipe["data"] = "synthetic:20000000";
  write_text(huge + "/recipe.json", recipe.dump());
  const CliRun e6 = run_cli("supernet eval --supernet " + q(huge) + " --arch smallest");
  CHECK(e6.is_input_error());
  CHECK_THAT(e6.err, Catch::Contains("evaluating subnets on") && Catch::Contains("needs about"));

  const CliRun e5 = run_cli(train_args(scratch_path("supernet_neg"), "--random-subnets -1"));
  CHECK(e5.is_input_error());
  CHECK_THAT(e5.err, Catch::Contains("--random-subnets"));
  CHECK(!fs::exists(scratch_path("supernet_neg") + "/checkpoint.safetensors"));
}

TEST_CASE("cli supernet train: 2 data-parallel ranks run to the end", "[supernet][cli][distributed]") {
  // A smoke test of the launcher, the all-reduce and per-rank evaluation with a supernet; that
  // ranks draw the same subnets follows from `sandwich: ...` (a function of seed and step only).
  const std::string two = scratch_path("supernet_rank2");
  const CliRun r = run_cli(train_args(two, "--nproc 2 --json --batch 16"));
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out_json()["world_size"] == 2);
  CHECK(fs::exists(two + "/supernet.safetensors"));
}

TEST_CASE("cli supernet eval --table: the latency model's cost of each subnet", "[supernet][cli]") {
  // An MPC table prices any network analytically; its cost is what `latency predict` reports.
  const std::string table = scratch_path("supernet_mpc_table.json");
  REQUIRE(run_cli("profile --device mpc --space " + q(space_path("small")) + " --out " + q(table) +
                  " --log-level warn").code == 0);
  const CliRun eval = run_cli("supernet eval --supernet " + q(trained()) + " --arch smallest,largest --table " +
                              q(table) + " --json --log-level warn");
  INFO(eval.err);
  REQUIRE(eval.code == 0);
  const auto rows = eval.out_json()["subnets"];
  REQUIRE(rows.size() == 2);
  CHECK(rows[0]["latency_unit"] == "s");
  CHECK(rows[0]["latency"].get<double>() > 0);
  CHECK(rows[0]["latency"].get<double>() < rows[1]["latency"].get<double>());
  const std::string arch = scratch_path("supernet_largest.json");
  save_arch(largest(load_space(space_path("small"))), arch);
  const CliRun predicted = run_cli("latency predict --table " + q(table) + " --arch " + q(arch) + " --json");
  INFO(predicted.err);
  REQUIRE(predicted.code == 0);
  CHECK(rows[1]["latency"].get<double>() == Approx(predicted.out_json()[0]["seconds"].get<double>()));
}
