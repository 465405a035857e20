// End-to-end tests of `vitnas profile` and `vitnas latency predict|validate|calibrate`: tables
// written atomically and resumed, predictions, validation output, MPC calibration, and the
// one-line errors for a wrong device, a missing entry or a corrupt table.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "core/arch_spec.h"
#include "profile/latency_table.h"
#include "profile/mpc_cost_table.h"
#include "profile/space_signatures.h"

using namespace vitnas;
using Catch::Contains;
using nlohmann::json;
using test::q;
using test::run_cli;

namespace {

const std::string kSource = VITNAS_SOURCE_DIR;

std::string path(const std::string& name) { return test::scratch_path("lat_" + name); }

// A tiny arch (32x32 input) and a second one differing in one stage, as files.
std::string tiny_arch(const std::string& name, int stage2_dim) {
  json j = json::parse(test::kCustomSpec);
  j["name"] = name;
  j["distillation"] = false;
  j["stages"][1]["embed_dim"] = stage2_dim;
  for (auto& h : j["stages"][1]["blocks"][0]["attention"]["heads"]) h["v_dim"] = stage2_dim / 3;
  const std::string p = path(name + ".json");
  test::write_text(p, j.dump());
  return p;
}

// Fast timing: a profile of a tiny arch takes a second or two.
const std::string kQuick = " --batch 2 --seconds 0.01 --calibration-nets 2 --log-level warn";

}  // namespace

TEST_CASE("cli profile: writes a table, refuses to overwrite, resumes", "[latency][cli]") {
  const std::string a = tiny_arch("tiny_a", 48), b = tiny_arch("tiny_b", 36);
  const std::string table = path("tiny.json");
  std::filesystem::remove(table);

  auto r = run_cli("profile --arch " + q(a) + " --out " + q(table) + kQuick + " --json");
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out_json()["entries"] == arch_signatures({load_arch(a)}, 2).size());
  LatencyTable first = load_table(table);
  CHECK(first.device.kind == DeviceKind::cpu);
  CHECK(first.device.batch == 2);
  CHECK(first.networks.size() == 1);
  CHECK(first.calibration.has_value());

  r = run_cli("profile --arch " + q(a) + " --out " + q(table) + kQuick);
  CHECK(r.is_input_error());
  CHECK_THAT(r.err, Contains("--resume"));

  SECTION("--resume measures only what is missing") {
    r = run_cli("profile --arch " + q(a) + "," + q(b) + " --out " + q(table) + kQuick + " --resume");
    INFO(r.err);
    REQUIRE(r.code == 0);
    const LatencyTable both = load_table(table);
    CHECK(both.entries.size() == arch_signatures({load_arch(a), load_arch(b)}, 2).size());
    for (const auto& [key, e] : first.entries) CHECK(both.entries.at(key).median_ms == e.median_ms);
    CHECK(both.networks.size() == 2);
  }
  SECTION("--resume on another device is refused") {
    r = run_cli("profile --arch " + q(a) + " --out " + q(table) + kQuick + " --resume --threads 2");
    CHECK(r.is_input_error());
    CHECK_THAT(r.err, Contains("threads"));
  }
}

TEST_CASE("cli profile: a killed run leaves a readable table and resumes", "[latency][cli]") {
  const std::string table = path("killed.json");
  std::filesystem::remove(table);
  const std::string args = "profile --space " + q(kSource + "/experiments/spaces/small.json") +
                           " --out " + q(table) + kQuick;
  // SIGKILL as soon as the first partial table exists (after the first calibration network or
  // a second of ops: half the work is still to do), not after a fixed time, which a loaded
  // machine may not reach the first save in. The loop also ends if the run exits first.
  const std::string killed = "'" + std::string(VITNAS_CLI_PATH) + "' " + args +
                             " 2>/dev/null & pid=$!; while [ ! -f " + q(table) +
                             " ] && kill -0 $pid 2>/dev/null; do sleep 0.02; done; "
                             "{ kill -9 $pid; wait $pid; } 2>/dev/null";
  CHECK(std::system(killed.c_str()) != 0);  // killed mid-run
  REQUIRE(std::filesystem::exists(table));
  const LatencyTable partial = load_table(table);  // never a half-written file
  const auto r = run_cli(args + " --resume");
  INFO(r.err);
  REQUIRE(r.code == 0);
  const LatencyTable full = load_table(table);
  CHECK(full.entries.size() >= partial.entries.size());
  for (const auto& [key, e] : partial.entries) CHECK(full.entries.at(key).median_ms == e.median_ms);
}

TEST_CASE("cli latency predict and validate", "[latency][cli]") {
  const std::string a = tiny_arch("tiny_p", 48);
  const std::string table = path("predict.json");
  std::filesystem::remove(table);
  REQUIRE(run_cli("profile --arch " + q(a) + " --out " + q(table) + kQuick).code == 0);

  auto r = run_cli("latency predict --table " + q(table) + " --arch " + q(a) + " --json --repeat 1000");
  INFO(r.err);
  REQUIRE(r.code == 0);
  REQUIRE(r.out_json().size() == 1);  // a list even for one --arch
  const json p = r.out_json()[0];
  CHECK(p["ms"].get<double>() > 0);
  CHECK(p["predictions_per_s"].get<double>() > 0);
  double blocks = 0;
  for (const auto& b : p["blocks"]) blocks += b["raw_ms"].get<double>();
  CHECK(blocks == Approx(p["raw_ms"].get<double>()));

  SECTION("another device, a missing entry") {
    r = run_cli("latency predict --table " + q(table) + " --arch " + q(a) + " --threads 2");
    CHECK(r.is_input_error());
    r = run_cli("latency predict --table " + q(table) + " --arch " + q(a) + " --device cuda");
    CHECK(r.is_input_error());
    r = run_cli("latency predict --table " + q(table) + " --arch m0");
    CHECK(r.is_input_error());
    CHECK_THAT(r.err, Contains("no entry"));
  }
  SECTION("validate reports the figures of merit") {
    r = run_cli("latency validate --table " + q(table) + " --arch " + q(a) +
                " --seconds 0.05 --rounds 2 --json --log-level warn --csv " + q(path("val.csv")));
    INFO(r.err);
    REQUIRE(r.code == 0);
    const json v = r.out_json();
    for (const char* key : {"mape", "within_10", "within_5", "kendall_tau", "rmse_ms", "max_error"})
      CHECK(v.contains(key));
    CHECK(v["n"] == 1);
    CHECK_THAT(test::read_text(path("val.csv")), Contains("tiny_p,"));
  }
  SECTION("validate refuses a table of another machine") {
    json j = json::parse(test::read_text(table));
    j["device"]["model"] = "Another CPU";
    test::write_text(path("other.json"), j.dump());
    r = run_cli("latency validate --table " + q(path("other.json")) + " --arch " + q(a));
    CHECK(r.is_input_error());
    CHECK_THAT(r.err, Contains("Another CPU"));
  }
  SECTION("a corrupt table") {
    test::write_text(path("corrupt.json"), test::read_text(table).substr(0, 100));
    r = run_cli("latency predict --table " + q(path("corrupt.json")) + " --arch " + q(a));
    CHECK(r.is_input_error());
  }
}

TEST_CASE("cli latency: MPC tables, prediction and calibration to MPCViT", "[latency][cli][mpc]") {
  const std::string table = path("mpc.json"), calibrated = path("mpc_cal.json");
  std::filesystem::remove(table);
  REQUIRE(run_cli("profile --device mpc --link wan --arch vit_7_4_32 --out " + q(table)).code == 0);

  auto r = run_cli("latency predict --table " + q(table) + " --arch vit_7_4_32 --json");
  INFO(r.err);
  REQUIRE(r.code == 0);
  json p = r.out_json()[0];
  CHECK(p["rounds"].get<double>() > 0);
  CHECK(p["bytes"].get<double>() > 0);
  CHECK(p["seconds"].get<double>() > 0);
  CHECK(p["calibrated"] == false);

  const std::string mpc = kSource + "/experiments/mpc/";
  r = run_cli("latency calibrate --form kinds --table " + q(table) + " --measured " +
              q(mpc + "mpcvit_cifar10.json") + " --out " + q(calibrated) + " --json");
  INFO(r.err);
  REQUIRE(r.code == 0);
  const std::vector<std::pair<std::string, double>> mu = {
      {"0.1", 48.03}, {"0.3", 52.88}, {"0.5", 58.66}, {"0.7", 63.56}};
  for (const auto& [m, seconds] : mu) {
    r = run_cli("latency predict --table " + q(calibrated) + " --arch " +
                q(mpc + "vit_7_4_32_mu" + m + ".json") + " --json");
    INFO(r.err);
    REQUIRE(r.code == 0);
    p = r.out_json()[0];
    INFO("mu " << m << ": " << p["seconds"] << " s vs " << seconds);
    CHECK(p["calibrated"] == true);
    CHECK(std::abs(p["seconds"].get<double>() - seconds) / seconds < 0.05);
  }

  SECTION("points measured on another link are refused") {
    REQUIRE(run_cli("profile --device mpc --link lan --arch vit_7_4_32 --resume --out " + q(path("lan.json"))).code == 0);
    r = run_cli("latency calibrate --table " + q(path("lan.json")) + " --measured " + q(mpc + "mpcvit_cifar10.json"));
    CHECK(r.is_input_error());
    CHECK_THAT(r.err, Contains("wan"));
  }
}

TEST_CASE("cli profile --device mpc: --network is a deprecated alias of --link", "[latency][cli][mpc]") {
  const std::string table = path("mpc_alias.json");
  std::filesystem::remove(table);
  auto r = run_cli("profile --device mpc --network lan --arch vit_7_4_32 --out " + q(table));
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK_THAT(r.err, Contains("--network is deprecated") && Contains("--link"));
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);  // one line
  CHECK(load_table(table).mpc->link.name == "lan");

  r = run_cli("profile --device mpc --link lan --arch vit_7_4_32 --resume --out " + q(table));
  CHECK(r.code == 0);
  CHECK(r.err.empty());
  r = run_cli("profile --device mpc --link lan --network wan --arch vit_7_4_32 --resume --out " + q(table));
  CHECK(r.is_input_error());
}

TEST_CASE("cli latency: MPC predict --repeat times the calibrated cost, validate --measured", "[latency][cli][mpc]") {
  const std::string table = path("mpc_v.json"), calibrated = path("mpc_v_cal.json");
  const std::string mpc = kSource + "/experiments/mpc/";
  std::filesystem::remove(table);
  REQUIRE(run_cli("profile --device mpc --link wan --arch vit_7_4_32 --out " + q(table)).code == 0);
  REQUIRE(run_cli("latency calibrate --form kinds --table " + q(table) + " --measured " +
                  q(mpc + "mpcvit_cifar10.json") + " --out " + q(calibrated)).code == 0);

  auto r = run_cli("latency predict --table " + q(calibrated) + " --arch vit_7_4_32 --repeat 20 --json");
  INFO(r.err);
  REQUIRE(r.code == 0);
  json p = r.out_json()[0];
  CHECK(p["predictions_per_s"].get<double>() > 0);
  CHECK(p["calibrated"] == true);
  CHECK(p["link"] == p["network"]);  // "network": the old key, kept for one release
  CHECK(p["link"]["name"] == "wan");

  r = run_cli("latency validate --table " + q(calibrated) + " --measured " + q(mpc + "mpcvit_cifar10.json") + " --json");
  INFO(r.err);
  REQUIRE(r.code == 0);
  p = r.out_json();
  CHECK(p["n"] == 3);
  CHECK(p["mape"].get<double>() < 1e-6);  // the points it was fitted on
  CHECK(p["points"][0]["label"] == "all-softmax");

  r = run_cli("latency validate --table " + q(table) + " --arch vit_7_4_32");
  CHECK(r.is_input_error());
  CHECK_THAT(r.err, Contains("--measured"));
}

TEST_CASE("cli latency check-costs: the MPC model against CrypTen's measured costs", "[latency][cli][mpc]") {
  const std::string ref = std::string(VITNAS_REFERENCE_DIR) + "/mpc/crypten_measured.json";
  const std::string csv = path("check_costs.csv");
  auto r = run_cli("latency check-costs --json --reference " + q(ref) + " --csv " + q(csv));
  INFO(r.err);
  REQUIRE(r.code == 0);
  const nlohmann::json j = nlohmann::json::parse(r.out);
  CHECK(j.at("checks").size() == 93);
  CHECK(j.at("rounds_exact") == 93);
  CHECK(j.at("max_bytes_error_pct").get<double>() < 2.0);
  const std::string rows = test::read_text(csv);
  CHECK(std::count(rows.begin(), rows.end(), '\n') == 94);  // header + every check

  // Bad input: a missing file, a corrupt one, a cost table of the old fitted form.
  r = run_cli("latency check-costs --reference " + q(path("no_such.json")));
  CHECK(r.is_input_error());
  const std::string corrupt = path("corrupt_ref.json");
  test::write_text(corrupt, test::read_text(ref).substr(0, 5000));
  r = run_cli("latency check-costs --reference " + q(corrupt));
  CHECK(r.is_input_error());
  CHECK_THAT(r.err, Contains("corrupt_ref.json"));
  nlohmann::json old = cost_table_to_json(crypten_cost_table());
  old["row_max"] = {{"rounds_base", 34}, {"rounds_per_ln_step", 11}};
  const std::string old_costs = path("old_costs.json");
  test::write_text(old_costs, old.dump());
  r = run_cli("latency check-costs --reference " + q(ref) + " --costs " + q(old_costs));
  CHECK(r.is_input_error());
  CHECK_THAT(r.err, Contains("row_max") && Contains("vitnas profile --device mpc"));
}

TEST_CASE("cli latency calibrate: --form and --loo", "[latency][cli][mpc]") {
  const std::string mpc = kSource + "/experiments/mpc/";
  const std::string table = path("loo_wan.json");
  std::filesystem::remove(table);
  REQUIRE(run_cli("profile --device mpc --link wan --arch vit_7_4_32 --out " + q(table)).code == 0);
  auto r = run_cli("latency calibrate --json --loo --table " + q(table) + " --measured " +
                   q(mpc + "mpcvit_all.json") + " --out " + q(path("loo_link.json")));
  INFO(r.err);
  REQUIRE(r.code == 0);
  const json j = json::parse(r.out);
  CHECK_THAT(j.at("fitted").get<std::string>(), Contains("link: RTT"));
  REQUIRE(j.at("points").size() == 10);
  CHECK(j.at("points")[0].contains("loo_predicted_s"));
  CHECK(j.at("loo").at("mape").get<double>() > 0);
  CHECK(load_table(path("loo_link.json")).mpc->calibration->form == "link");

  r = run_cli("latency calibrate --form kinds --table " + q(table) + " --measured " +
              q(mpc + "mpcvit_cifar10.json") + " --out " + q(path("loo_kinds.json")));
  CHECK(r.code == 0);
  CHECK(load_table(path("loo_kinds.json")).mpc->calibration->form == "kinds");
  // A leave-one-out that cannot fit (two points: one left to fit two scales) fails before
  // anything is written.
  json two = json::parse(test::read_text(mpc + "mpcvit_tiny_imagenet.json"));
  two["points"].erase(1);
  const std::string two_points = path("two_points.json");
  test::write_text(two_points, two.dump());
  const std::string untouched = path("loo_untouched.json");
  std::filesystem::remove(untouched);
  r = run_cli("latency calibrate --loo --table " + q(table) + " --measured " + q(two_points) +
              " --out " + q(untouched));
  CHECK(r.is_input_error());
  CHECK_THAT(r.err, Contains("leave-one-out without"));
  CHECK(!std::filesystem::exists(untouched));
  r = run_cli("latency calibrate --form tokens --table " + q(table) + " --measured " +
              q(mpc + "mpcvit_all.json"));
  CHECK(r.is_input_error());
  // --form is for mpc tables.
  r = run_cli("latency calibrate --form link --table " +
              q(kSource + "/experiments/tables/cpu_1t_b16.json") + " --measured " +
              q(mpc + "mpcvit_all.json") + " --out " + q(path("cpu_form.json")));
  CHECK(r.is_input_error());
  CHECK_THAT(r.err, Contains("--form is for mpc tables"));
}
