// `vitnas prune` end to end on small synthetic data: the run directory and its log, each step
// within its target, a result the other commands load, resume after a step is lost (the same
// weights, bit for bit, with one thread), and bad input (a target below the smallest reachable
// network, weights of another network, a table of another machine or lacking widths, a corrupt
// log, an existing run without --resume) as one-line errors that write nothing.
#include <catch2/catch.hpp>

#include <filesystem>
#include <sstream>

#include <nlohmann/json.hpp>

#include <torch/torch.h>

#include "core/io.h"
#include "core/safetensors.h"
#include "cli_runner.h"

using namespace vitnas;
using namespace vitnas::test;
using Catch::Matchers::Contains;
using nlohmann::json;

namespace {

namespace fs = std::filesystem;

std::string spec_file(const char* name, const char* spec) {
  const std::string path = scratch_path(name);
  write_text(path, spec);
  return path;
}

// The custom network (every efficientvit group type, a distillation head), trained one epoch.
const std::string& custom_weights() {
  static const std::string dir = [] {
    const std::string d = scratch_path("prune_custom_trained");
    fs::remove_all(d);
    const CliRun r = run_cli("train --arch " + q(spec_file("prune_custom.json", kCustomSpec)) +
                             " --data synthetic:512 --epochs 1 --warmup-epochs 0 --batch 32 --threads 1 "
                             "--log-level warn --no-progress --out " + q(d));
    INFO(r.err);
    REQUIRE(r.code == 0);
    return d;
  }();
  return dir;
}

// An MPC table prices any network analytically: valid on every machine.
const std::string& mpc_table() {
  static const std::string t = [] {
    const std::string path = scratch_path("prune_mpc_table.json");
    fs::remove(path);
    REQUIRE(run_cli("profile --device mpc --arch " + q(scratch_path("prune_custom.json")) + " --out " + q(path) +
                    " --log-level warn").code == 0);
    return path;
  }();
  return t;
}

std::string prune_args(const std::string& out, const std::string& extra) {
  return "prune --arch " + q(custom_weights() + "/arch.json") + " --weights " +
         q(custom_weights() + "/weights.safetensors") + " --data synthetic:512 --batch 32 --threads 1 "
         "--importance-batches 2 --importance-batch-size 16 --log-level warn --no-progress --out " + q(out) + " " + extra;
}

std::vector<json> log_lines(const std::string& dir) {
  std::vector<json> out;
  std::istringstream in(read_text(dir + "/prune_log.jsonl"));
  for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
  return out;
}

}  // namespace

TEST_CASE("cli prune: steps meet their targets, the result loads everywhere, resume is exact", "[prune][cli]") {
  custom_weights();
  const std::string out = scratch_path("prune_run");
  fs::remove_all(out);
  const CliRun r = run_cli(prune_args(out, "--table " + q(mpc_table()) +
                                               " --target-ratio 0.6 --steps 2 --finetune-epochs 1 --epochs 1 --json"));
  INFO(r.err);
  REQUIRE(r.code == 0);
  for (const char* f : {"arch.json", "weights.safetensors", "scores.csv", "prune_log.jsonl", "prune.json",
                        "steps/1/pruned.safetensors", "steps/2/finetune/weights.safetensors"})
    CHECK(fs::exists(out + "/" + f));
  const auto lines = log_lines(out);
  REQUIRE(lines.size() == 3);
  const double c0 = lines[0]["predicted"];
  CHECK(lines[0]["target"].is_null());
  for (int s : {1, 2}) {
    const double target = lines[size_t(s)]["target"];
    CHECK(target == Approx(c0 - (c0 - 0.6 * c0) * s / 2.0));  // linear schedule
    CHECK(lines[size_t(s)]["predicted"].get<double>() <= target);
    CHECK(lines[size_t(s)]["unit"] == "s");
    CHECK(lines[size_t(s)].contains("val_top1"));
    CHECK(lines[size_t(s)]["macs"].get<double>() < lines[0]["macs"].get<double>());
  }
  CHECK(r.out_json()["step"] == 2);
  // The result is an ordinary network.
  const std::string arch = q(out + "/arch.json"), weights = q(out + "/weights.safetensors");
  CHECK(run_cli("info --arch " + arch).code == 0);
  const std::string input = scratch_path("prune_input.safetensors"), logits = scratch_path("prune_logits.safetensors");
  safetensors::save(input, {{"input", torch::randn({2, 3, 32, 32})}});
  const CliRun fwd = run_cli("forward --arch " + arch + " --weights " + weights + " --fused --log-level warn --input " +
                             q(input) + " --output " + q(logits));
  INFO(fwd.err);
  CHECK(fwd.code == 0);
  CHECK(safetensors::load(logits).tensors.at(0).second.sizes() == torch::IntArrayRef{2, 10});
  CHECK(run_cli("latency predict --table " + q(mpc_table()) + " --arch " + arch).code == 0);
  const CliRun scores = run_cli("info --arch " + arch);
  CHECK_THAT(read_text(out + "/scores.csv"), Contains("dimension,type,channel,score"));

  // Lose step 2 (as a kill -9 before its log line would) and resume: the same network, bit for bit.
  const std::string again = scratch_path("prune_run_again");
  fs::remove_all(again);
  fs::copy(out, again, fs::copy_options::recursive);
  fs::remove_all(again + "/steps/2");
  fs::remove(again + "/arch.json");
  write_text(again + "/prune_log.jsonl", lines[0].dump() + "\n" + lines[1].dump() + "\n");
  const CliRun resumed = run_cli(prune_args(again, "--table " + q(mpc_table()) +
                                                   " --target-ratio 0.6 --steps 2 --finetune-epochs 1 --epochs 1 --resume"));
  INFO(resumed.err);
  REQUIRE(resumed.code == 0);
  CHECK(read_text(again + "/weights.safetensors") == read_text(out + "/weights.safetensors"));
  CHECK(log_lines(again).size() == 3);

  // Resuming with other settings, or over a corrupt log, is refused and changes nothing.
  const CliRun other = run_cli(prune_args(again, "--table " + q(mpc_table()) +
                                                 " --target-ratio 0.5 --steps 2 --finetune-epochs 1 --epochs 1 --resume"));
  CHECK(other.is_input_error());
  CHECK_THAT(other.err, Contains("target_ratio"));
  write_text(again + "/prune_log.jsonl", "{\"step\": 0}\nnot json\n");
  const CliRun corrupt = run_cli(prune_args(again, "--table " + q(mpc_table()) +
                                                   " --target-ratio 0.6 --steps 2 --finetune-epochs 1 --epochs 1 --resume"));
  CHECK(corrupt.is_input_error());
  CHECK_THAT(corrupt.err, Contains("prune_log.jsonl line 2 is corrupt"));
  CHECK(read_text(again + "/prune_log.jsonl") == "{\"step\": 0}\nnot json\n");
  const CliRun exists = run_cli(prune_args(out, "--table " + q(mpc_table()) + " --target-ratio 0.6"));
  CHECK(exists.is_input_error());
  CHECK_THAT(exists.err, Contains("--resume"));
}

TEST_CASE("cli prune --embed: each stage's embedding narrowed, the result an ordinary network", "[prune][cli]") {
  custom_weights();
  const std::string out = scratch_path("prune_embed");
  fs::remove_all(out);
  const CliRun r = run_cli(prune_args(out, "--table " + q(mpc_table()) + " --target-ratio 0.4 --embed --round-embed 8"));
  INFO(r.err);
  REQUIRE(r.code == 0);
  const json last = log_lines(out).back();
  REQUIRE(last["kept"].contains("embed"));
  const auto kept = last["kept"]["embed"];  // [kept, total] channels over the stages
  CHECK(kept[1].get<int>() == 32 + 48 + 64);  // the stream channels of the three stages
  CHECK(kept[0].get<int>() <= kept[1].get<int>());
  const std::string arch = q(out + "/arch.json"), weights = q(out + "/weights.safetensors");
  const std::string input = scratch_path("prune_embed_input.safetensors");
  safetensors::save(input, {{"input", torch::randn({2, 3, 32, 32})}});
  CHECK(run_cli("forward --arch " + arch + " --weights " + weights + " --fused --log-level warn --input " + q(input) +
                " --output " + q(scratch_path("prune_embed_logits.safetensors"))).code == 0);
}

TEST_CASE("cli prune: a vit to a MACs budget", "[prune][cli]") {
  const std::string trained = scratch_path("prune_vit_trained"), out = scratch_path("prune_vit");
  fs::remove_all(trained);
  fs::remove_all(out);
  REQUIRE(run_cli("train --arch " + q(spec_file("prune_vit.json", kTinyViTSpec)) +
                  " --data synthetic:256 --epochs 1 --warmup-epochs 0 --batch 32 --threads 1 --log-level warn "
                  "--no-progress --out " + q(trained)).code == 0);
  const CliRun r = run_cli("prune --arch " + q(trained + "/arch.json") + " --weights " + q(trained + "/weights.safetensors") +
                           " --data synthetic:256 --target-ratio 0.5 --importance-batches 2 --threads 1 "
                           "--embed --round-embed 8 --log-level warn --no-progress --json --out " + q(out));
  INFO(r.err);
  REQUIRE(r.code == 0);
  const json last = r.out_json();
  CHECK(last["unit"] == "MACs");
  CHECK(last["kept"].contains("vit_embed"));
  CHECK(last["macs"].get<double>() <= 0.5 * log_lines(out)[0]["macs"].get<double>());
  CHECK(run_cli("info --arch " + q(out + "/arch.json")).code == 0);
}

TEST_CASE("cli prune --closed-loop: each cut timed with the unpruned network, the target corrected by the ratio",
          "[prune][cli]") {
  custom_weights();
  const std::string table = scratch_path("prune_cpu_table.json"), out = scratch_path("prune_closed");
  fs::remove(table);
  fs::remove_all(out);
  REQUIRE(run_cli("profile --arch " + q(custom_weights() + "/arch.json") + " --threads 1 --log-level warn --out " +
                  q(table)).code == 0);
  // A tolerance no timing meets: the loop runs until the cut repeats or after 3 re-cuts.
  const CliRun r = run_cli(prune_args(out, "--table " + q(table) + " --target-ratio 0.6 --round-to 16 --round-qk 8 "
                                      "--closed-loop 3 --closed-loop-tolerance 0.0001 --measure-seconds 0.3 "
                                      "--calibration-networks 3"));
  INFO(r.err);
  REQUIRE(r.code == 0);
  // The working table is calibrated on the pruning's own networks (timed here), not the profile's.
  const json working = read_json_file(out + "/table.json");
  std::vector<std::string> names;
  for (const json& n : working["networks"]) names.push_back(n["arch"]["name"]);
  CHECK(names == std::vector<std::string>{"custom", "prune-calib-1", "prune-calib-2"});
  CHECK(working["calibration"]["networks"] == json(names));
  const auto lines = log_lines(out);
  REQUIRE(lines.size() == 2);
  const json& trace = lines[1].at("closed_loop");
  REQUIRE(trace.size() >= 1);
  REQUIRE(trace.size() <= 4);
  size_t nearest = 0;
  for (size_t k = 0; k < trace.size(); ++k) {
    const json& e = trace[k];
    CHECK(e["goal"].get<double>() == Approx(0.6));
    CHECK(e["ratio"].get<double>() == Approx(e["measured"].get<double>() / e["unpruned_measured"].get<double>()));
    CHECK(e["error"].get<double>() == Approx(e["ratio"].get<double>() / 0.6 - 1));
    // The first cut aims at the table's prediction; the next ones scale the last target by goal /
    // measured ratio until cuts on both sides of the goal were timed, then interpolate linearly
    // between the nearest two.
    double expected_target = 0.6 * lines[0]["predicted"].get<double>();
    if (k > 0) {
      int below = -1, above = -1;
      for (size_t i = 0; i < k; ++i) {
        const double r = trace[i]["ratio"];
        if (r < 0.6 && (below < 0 || r > trace[size_t(below)]["ratio"].get<double>())) below = int(i);
        if (r >= 0.6 && (above < 0 || r < trace[size_t(above)]["ratio"].get<double>())) above = int(i);
      }
      const json& last = trace[k - 1];
      if (below < 0 || above < 0) {
        expected_target = last["target"].get<double>() * 0.6 / last["ratio"].get<double>();
      } else {
        const json &b = trace[size_t(below)], &a = trace[size_t(above)];
        const double t0 = b["target"], r0 = b["ratio"], t1 = a["target"], r1 = a["ratio"];
        expected_target = t0 + (0.6 - r0) * (t1 - t0) / (r1 - r0);
      }
    }
    CHECK(e["target"].get<double>() == Approx(expected_target).epsilon(1e-9));
    if (std::abs(e["error"].get<double>()) < std::abs(trace[nearest]["error"].get<double>())) nearest = k;
  }
  // The result is the cut nearest the goal.
  CHECK(lines[1]["predicted"].get<double>() == Approx(trace[nearest]["predicted"].get<double>()).epsilon(1e-9));
  // Nothing to time under MPC or a MACs target.
  CHECK(run_cli(prune_args(out + "_mpc", "--table " + q(mpc_table()) + " --target-ratio 0.6 --closed-loop 2")).is_input_error());
  CHECK(run_cli(prune_args(out + "_macs", "--target-macs 1000000 --closed-loop 2")).is_input_error());
  CHECK(!fs::exists(out + "_mpc/prune.json"));
}

TEST_CASE("cli prune: bad input is a one-line error and writes nothing", "[prune][cli]") {
  custom_weights();
  const std::string out = scratch_path("prune_bad");
  fs::remove_all(out);
  // Below the smallest network the groups reach.
  const CliRun low = run_cli(prune_args(out, "--table " + q(mpc_table()) + " --target-ratio 0.01"));
  CHECK(low.is_input_error());
  CHECK_THAT(low.err, Contains("below the smallest network this pruning reaches"));
  CHECK(!fs::exists(out + "/prune.json"));
  // Weights of another network.
  const CliRun wrong = run_cli("prune --arch m0 --weights " + q(custom_weights() + "/weights.safetensors") +
                               " --data synthetic:64 --target-ratio 0.5 --out " + q(out + "_w"));
  CHECK(wrong.is_input_error());
  CHECK(!fs::exists(out + "_w"));
  // A cpu table of another machine; with --allow-foreign-table, one lacking the widths.
  json table = read_json_file(std::string(VITNAS_SOURCE_DIR) + "/experiments/tables/cpu_1t_b16_avx2.json");
  table["device"]["model"] = "Another CPU (avx2)";
  const std::string foreign = scratch_path("prune_foreign_table.json");
  write_text(foreign, table.dump());
  const CliRun f = run_cli(prune_args(out + "_f", "--table " + q(foreign) + " --target-ratio 0.5"));
  CHECK(f.is_input_error());
  CHECK_THAT(f.err, Contains("--allow-foreign-table"));
  const CliRun lacking = run_cli("prune --arch " + q(custom_weights() + "/arch.json") + " --weights " +
                                 q(custom_weights() + "/weights.safetensors") + " --data synthetic:512 --log-level error --out " +
                                 q(out + "_f") + " --table " + q(foreign) + " --target-ratio 0.5 --allow-foreign-table");
  INFO(lacking.err);
  CHECK(lacking.is_input_error());
  CHECK_THAT(lacking.err, Contains("has no entry"));
  CHECK(!fs::exists(out + "_f/prune.json"));
  // Widths on a zero grid, for prune and for the analysis.
  CHECK(run_cli(prune_args(out, "--target-macs 1000000 --embed --round-embed 0")).is_input_error());
  const CliRun grid = run_cli("prune analyse --arch " + q(custom_weights() + "/arch.json") + " --weights " +
                              q(custom_weights() + "/weights.safetensors") + " --data synthetic:64 --embed --round-embed 0 "
                              "--out " + q(out + "_a"));
  CHECK(grid.is_input_error());
  CHECK_THAT(grid.err, Contains("--round-embed"));
  CHECK(!fs::exists(out + "_a"));
  // No target, two targets.
  CHECK(run_cli(prune_args(out, "")).is_input_error());
  CHECK(run_cli(prune_args(out, "--target-ratio 0.5 --target-macs 1000")).is_input_error());
}

TEST_CASE("cli prune analyse: kept widths per block, the plot and the oracle check", "[prune][cli]") {
  custom_weights();
  const std::string out = scratch_path("prune_analyse");
  const CliRun r = run_cli("prune analyse --arch " + q(custom_weights() + "/arch.json") + " --weights " +
                           q(custom_weights() + "/weights.safetensors") +
                           " --data synthetic:512 --importance-batches 2 --batch 16 --oracle-groups 12 "
                           "--oracle-batches 1 --threads 1 --log-level warn --json --out " + q(out));
  INFO(r.err);
  REQUIRE(r.code == 0);
  const json s = r.out_json();
  CHECK(s["pruned_macs"].get<double>() <= s["budget_macs"].get<double>());
  CHECK(s["oracle"]["groups"] == 12);
  for (const char* type : {"ffn_hidden", "qk", "v", "merge_hidden", "stem_hidden"}) CHECK(s["kept_by_type"].contains(type));
  for (const char* f : {"kept.csv", "kept.svg", "scores.csv", "oracle.csv", "analysis.json"}) CHECK(fs::exists(out + "/" + f));
  CHECK_THAT(read_text(out + "/kept.svg"), Contains("<svg"));
}
