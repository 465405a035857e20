// `vitnas train` end to end on small synthetic data: the run directory, resume after SIGKILL
// ending with the weights of an uninterrupted run, data-parallel ranks matching one process on
// the doubled batch, and bad input refused without touching an existing checkpoint.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <sstream>

#include <torch/torch.h>

#include "core/arch_spec.h"
#include "core/safetensors.h"
#include "models/classifier.h"
#include "models/weights.h"
#include "cli_runner.h"

using namespace vitnas;
using namespace vitnas::test;

namespace {

namespace fs = std::filesystem;

std::string tiny_vit_path() {
  const std::string path = scratch_path("train_tiny_vit.json");
  if (!fs::exists(path)) write_text(path, kTinyViTSpec);
  return path;
}

// A small but real recipe: 3 epochs of 4096 synthetic images, 1 compute thread (bitwise
// reproducible), evaluation on a 10% split and the test part.
std::string train_args(const std::string& out, const std::string& extra = "") {
  return "train --arch " + q(tiny_vit_path()) + " --data synthetic:4096 --epochs 3 --batch 32 " +
         "--lr 3e-3 --threads 1 --loader-threads 2 --out " + q(out) + " " + extra;
}

std::vector<nlohmann::json> metrics_lines(const std::string& dir) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(read_text(dir + "/metrics.jsonl"));
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

// Max |a - b| over the tensors of two weights files with the same keys. Skipped: ViT's qkv bias,
// whose key part has a zero gradient (softmax ignores a constant added to every key), so its
// gradient is rounding noise that Adam's normalisation turns into full-size steps.
double max_difference(const std::string& a_path, const std::string& b_path) {
  auto a = safetensors::load(a_path).tensors, b = safetensors::load(b_path).tensors;
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    REQUIRE(a[i].first == b[i].first);
    const std::string& key = a[i].first;
    if (!a[i].second.is_floating_point() || key.find("qkv.bias") != std::string::npos) continue;
    worst = std::max(worst, (a[i].second - b[i].second).abs().max().item<double>());
  }
  return worst;
}

}  // namespace

TEST_CASE("cli train: a run directory with weights, metrics and a checkpoint", "[train][cli]") {
  // One training run; every section works on its own copy of the directory.
  static const std::string trained = scratch_path("train_plain");
  static const CliRun r = run_cli(train_args(trained, "--json"));
  INFO(r.err);
  REQUIRE(r.code == 0);
  static int copies = 0;
  const std::string out = scratch_path("train_plain_" + std::to_string(++copies));
  fs::copy(trained, out, fs::copy_options::recursive);

  auto j = r.out_json();
  CHECK(j["epochs_run"] == 3);
  CHECK(j["first_epoch"] == 0);
  for (const char* f : {"arch.json", "weights.safetensors", "metrics.jsonl", "checkpoint.safetensors"})
    CHECK(fs::exists(out + "/" + f));

  auto lines = metrics_lines(out);
  REQUIRE(lines.size() == 3);
  for (const char* key : {"train_loss", "train_top1", "val_top1", "val_top5", "test_top1",
                          "test_top5", "test_loss", "img_per_s", "lr", "seconds"})
    CHECK(lines[2].contains(key));
  CHECK(lines[2]["step"] == 3 * (3686 / 32));  // 410 of 4096 held out, full batches only
  CHECK(lines[2]["train_loss"].get<double>() < lines[0]["train_loss"].get<double>());
  CHECK(lines[2]["test_top1"].get<double>() > 50.0);  // 10 classes: chance is 10%
  CHECK(lines[2]["test_top5"].get<double>() >= lines[2]["test_top1"].get<double>());
  CHECK(j["last"] == lines[2]);

  // The weights load strictly into the architecture written beside them.
  CHECK_NOTHROW(load_weights(*build_model(load_arch(out + "/arch.json")), out + "/weights.safetensors"));

  SECTION("an existing run is not overwritten without --resume") {
    const std::string before = read_text(out + "/checkpoint.safetensors");
    CliRun again = run_cli(train_args(out));
    CHECK(again.is_input_error());
    CHECK_THAT(again.err, Catch::Contains("--resume"));
    CHECK(read_text(out + "/checkpoint.safetensors") == before);
  }
  SECTION("resume refuses another architecture or recipe, and leaves the checkpoint alone") {
    const std::string before = read_text(out + "/checkpoint.safetensors");
    const std::string other = scratch_path("train_other.json");
    write_text(other, kCustomSpec);
    CliRun wrong_arch = run_cli("train --arch " + q(other) +
                                " --data synthetic:4096 --epochs 3 --batch 32 --lr 3e-3 --threads 1 --out " +
                                q(out) + " --resume");
    CHECK(wrong_arch.is_input_error());
    CHECK_THAT(wrong_arch.err, Catch::Contains("arch: the checkpoint trained tiny_vit"));
    CliRun wrong_lr = run_cli(train_args(out, "--resume --lr 1e-3"));
    CHECK(wrong_lr.is_input_error());
    CHECK_THAT(wrong_lr.err, Catch::Contains("lr: 0.003 in the checkpoint, 0.001 now"));
    CHECK(read_text(out + "/checkpoint.safetensors") == before);
  }
  SECTION("a truncated checkpoint is a one-line error") {
    const std::string bytes = read_text(out + "/checkpoint.safetensors");
    write_text(out + "/checkpoint.safetensors", bytes.substr(0, bytes.size() - 100));
    CliRun r2 = run_cli(train_args(out, "--resume"));
    CHECK(r2.is_input_error());
    CHECK_THAT(r2.err, Catch::Contains("checkpoint.safetensors"));
  }
  SECTION("resuming a finished run trains nothing more") {
    CliRun done = run_cli(train_args(out, "--resume --json"));
    REQUIRE(done.code == 0);
    CHECK(done.out_json()["epochs_run"] == 0);
    CHECK(done.out_json()["last"] == lines[2]);
  }
}

TEST_CASE("cli train: killed at any moment, --resume ends with the uninterrupted weights",
          "[train][cli]") {
  const std::string straight = scratch_path("train_straight");
  REQUIRE(run_cli(train_args(straight)).code == 0);

  const std::string killed = scratch_path("train_killed");
  // SIGKILL as soon as the first checkpoint exists: mid epoch 2, or while writing it.
  const std::string cmd = "'" + std::string(VITNAS_CLI_PATH) + "' " + train_args(killed) +
                          " 2>/dev/null & pid=$!; while [ ! -f '" + killed +
                          "/checkpoint.safetensors' ] && kill -0 $pid 2>/dev/null; do sleep 0.02; done; { kill -9 $pid; wait $pid; } 2>/dev/null";
  CHECK(std::system(cmd.c_str()) != 0);
  CliRun resumed = run_cli(train_args(killed, "--resume --json"));
  INFO(resumed.err);
  REQUIRE(resumed.code == 0);
  CHECK(resumed.out_json()["first_epoch"].get<int>() >= 1);
  CHECK(max_difference(straight + "/weights.safetensors", killed + "/weights.safetensors") == 0.0);
  auto a = metrics_lines(straight), b = metrics_lines(killed);
  REQUIRE(b.size() == 3);
  for (size_t e = 0; e < 3; ++e) CHECK(a[e]["test_top1"] == b[e]["test_top1"]);
}

TEST_CASE("cli train: 2 ranks on loopback = 1 rank on the doubled batch", "[train][cli][distributed]") {
  // The ranks' shards interleave the single process's batches, LayerNorm is per sample and the
  // gradients are averaged, so only summation order differs.
  const std::string common = "train --arch " + q(tiny_vit_path()) +
                             " --data synthetic:1024 --epochs 2 --lr 3e-3 --threads 1 --json ";
  const std::string one = scratch_path("train_rank1"), two = scratch_path("train_rank2");
  CliRun single = run_cli(common + "--batch 32 --out " + q(one));
  INFO(single.err);
  REQUIRE(single.code == 0);
  CliRun ddp = run_cli(common + "--batch 16 --nproc 2 --out " + q(two));
  INFO(ddp.err);
  REQUIRE(ddp.code == 0);
  CHECK(ddp.out_json()["world_size"] == 2);
  CHECK(ddp.out_json()["last"]["step"] == single.out_json()["last"]["step"]);
  CHECK(max_difference(one + "/weights.safetensors", two + "/weights.safetensors") < 1e-5);
  // Evaluation is sharded without padding: the same images are counted once.
  CHECK(ddp.out_json()["last"]["test_top1"].get<double>() ==
        Approx(single.out_json()["last"]["test_top1"].get<double>()).margin(1.0));
}

TEST_CASE("cli train: bad data is a one-line error", "[train][cli]") {
  const std::string out = scratch_path("train_bad_data");
  CliRun missing = run_cli(train_args(out, "--data fashion-mnist:/nonexistent"));
  CHECK(missing.is_input_error());
  CHECK_THAT(missing.err, Catch::Contains("/nonexistent"));
  CHECK(!fs::exists(out + "/checkpoint.safetensors"));

  // An image that does not decode, met in the middle of an epoch.
  const std::string folder = scratch_path("train_bad_folder");
  for (const char* cls : {"a", "b"}) fs::create_directories(folder + "/train/" + cls);
  fs::create_directories(folder + "/val/a");
  write_text(folder + "/train/a/broken.png", "\x89PNG\r\n\x1a\n not really a png");
  write_text(folder + "/val/a/broken.png", "\x89PNG\r\n\x1a\n not really a png");
  write_text(folder + "/train/b/broken.png", "\x89PNG\r\n\x1a\n not really a png");
  CliRun broken = run_cli("train --arch " + q(tiny_vit_path()) + " --data folder:" + q(folder) +
                          " --epochs 1 --warmup-epochs 0 --batch 1 --val-fraction 0 --log-level error --out " +
                          q(out));
  CHECK(broken.is_input_error());
  CHECK_THAT(broken.err, Catch::Contains("broken.png"));
}
