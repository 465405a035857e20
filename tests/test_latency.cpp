// Latency tables: op signatures, enumeration of a space, the predictor, calibration fits,
// validation statistics, table files and device fingerprints.
#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>
#include <random>
#include <set>

#include <nlohmann/json.hpp>

#include "core/complexity.h"
#include "core/error.h"
#include "core/io.h"
#include "core/search_space.h"
#include "fixtures.h"
#include "profile/op_signature.h"
#include "profile/calibration.h"
#include "profile/op_profiler.h"
#include "profile/predictor.h"
#include "profile/space_signatures.h"
#include "profile/validation.h"

using namespace vitnas;
using Catch::Contains;
using Catch::EndsWith;
using Catch::Matchers::WithinRel;

namespace {

const std::string kSpaces = std::string(VITNAS_SOURCE_DIR) + "/experiments/spaces/";

std::vector<OpSignature> ops_of(const ArchSpec& spec, int batch = 16) {
  std::vector<OpSignature> ops;
  for_each_op(spec, batch, [&](int, const OpSignature& s) { ops.push_back(s); });
  return ops;
}

// A table whose entries are made-up times of every op of `archs`: 1 ms per op, plus 0.001 ms
// per channel of input, so different shapes have different times.
LatencyTable synthetic_table(const std::vector<ArchSpec>& archs) {
  LatencyTable t;
  t.device = {DeviceKind::cpu, "test cpu", 1, 16, "float32", "libtorch test"};
  for (const auto& s : arch_signatures(archs, 16)) t.entries[s.key()] = {1.0 + 0.001 * s.in, 0.01, 15, 0};
  return t;
}

double synthetic_sum(const ArchSpec& spec) {
  double sum = 0;
  for (const auto& s : ops_of(spec)) sum += 1.0 + 0.001 * s.in;
  return sum;
}

}  // namespace

TEST_CASE("signatures: keys are canonical and parse back", "[latency]") {
  const ArchSpec custom = arch_from_json(nlohmann::json::parse(test::kCustomSpec));
  for (const auto& spec : {preset("m0"), preset("m5"), custom}) {
    for (const auto& s : ops_of(spec)) {
      INFO(s.key());
      const OpSignature back = parse_signature(s.key());
      CHECK(back.key() == s.key());
      CHECK(back.hash() == s.hash());
    }
  }
  SECTION("examples") {
    const auto ops = ops_of(preset("m0"));
    CHECK(ops.front().key() == "stem b=16 r=224 c=3 widths=8-16-32-64");
    CHECK(ops.back().key() == "head b=16 r=4 c=192 n=1000");
    std::set<std::string> keys;
    for (const auto& s : ops) keys.insert(s.key());
    CHECK(keys.count("attn_head b=16 r=14 win=7 c=16 kd=16 v=16 q=5 kind=softmax add=1") == 1);
    CHECK(keys.count("attn_head b=16 r=14 win=7 c=16 kd=16 v=16 q=5 kind=softmax add=0") == 1);
    CHECK(keys.count("attn_frame b=16 r=4 c=192 win=4 heads=4 v=192") == 1);  // window capped
    CHECK(keys.count("patch_merging b=16 r=14 c=64 h=256 o=128") == 1);
  }
  SECTION("malformed keys are errors naming the key") {
    for (const char* bad : {"conv b=1", "dw b=16 r=14", "dw b=16 r=14 c=x", "dw b=16 r=14 c=64 z=1",
                            "attn_head b=16 r=14 win=7 c=16 kd=16 v=16 q=5 kind=fast add=0", "dw b16"}) {
      INFO(bad);
      CHECK_THROWS_WITH(parse_signature(bad), Contains(bad));
    }
  }
}

TEST_CASE("signatures: ops of a network follow its rows", "[latency]") {
  const ArchSpec m0 = preset("m0");
  const auto rows = complexity(m0).blocks;
  std::vector<int> per_row(rows.size(), 0);
  for_each_op(m0, 16, [&](int row, const OpSignature&) { per_row.at(size_t(row))++; });
  // m0: stem; blocks1.0 = 2 DW+FFN pairs + frame + 4 heads; subsample sides 1 pair each.
  CHECK(per_row[0] == 1);
  CHECK(per_row[1] == 2 * 2 + 1 + 4);
  CHECK(rows[2].type == "subsample_ffn");
  CHECK(per_row[2] == 2);
  CHECK(per_row[3] == 1);  // patch merging
  CHECK(per_row.back() == 1);
  CHECK_THROWS_AS(ops_of(preset("vit_7_4_32")), InputError);  // mpc only
}

TEST_CASE("space enumeration covers every network the space can draw", "[latency]") {
  for (const char* file : {"small.json", "efficientvit_m.json"}) {
    INFO(file);
    const SearchSpace space = load_space(kSpaces + file);
    std::set<std::string> keys;
    for (const auto& s : space_signatures(space, 16)) keys.insert(s.key());
    std::mt19937_64 rng(7);
    for (int i = 0; i < 200; ++i) {
      const ArchSpec a = sample(space, rng);
      for (const auto& s : ops_of(a)) {
        INFO(s.key());
        REQUIRE(keys.count(s.key()) == 1);
      }
    }
  }
  SECTION("efficientvit_m.json gives exactly the keys of the shipped table it was profiled into") {
    // experiments/tables/cpu_1t_b16.json was written by `vitnas profile --space efficientvit_m.json`
    // before op signatures were made from the architecture walk: the keys are fixed text.
    const LatencyTable shipped = load_table(std::string(VITNAS_SOURCE_DIR) + "/experiments/tables/cpu_1t_b16.json");
    std::vector<std::string> keys, expected;
    for (const auto& s : space_signatures(load_space(kSpaces + "efficientvit_m.json"), 16)) keys.push_back(s.key());
    for (const auto& [key, e] : shipped.entries) expected.push_back(key);
    CHECK(keys.size() == 558);
    CHECK(keys == expected);  // both sorted by key
  }
  SECTION("the presets are covered by efficientvit_m.json") {
    const SearchSpace space = load_space(kSpaces + "efficientvit_m.json");
    std::set<std::string> keys;
    for (const auto& s : space_signatures(space, 16)) keys.insert(s.key());
    CHECK(keys.size() < 1000);  // profiling stays within minutes
    for (const char* name : {"m0", "m1", "m2", "m3", "m4", "m5"})
      for (const auto& s : ops_of(preset(name))) CHECK(keys.count(s.key()) == 1);
  }
}

TEST_CASE("predictor: sums entries, applies the calibration, names missing entries", "[latency]") {
  const ArchSpec m0 = preset("m0"), m1 = preset("m1");
  LatencyTable table = synthetic_table({m0});
  {
    const Predictor p(table);
    CHECK_THAT(p.cost(m0), WithinRel(synthetic_sum(m0), 1e-12));
    const Prediction b = p.prediction(m0);
    double rows = 0;
    for (const auto& row : b.rows) rows += row.raw_ms;
    CHECK_THAT(rows, WithinRel(b.raw_ms, 1e-12));
    CHECK(b.rows.size() == complexity(m0).blocks.size());
    CHECK_THROWS_WITH(p.cost(m1), Contains("no entry") && Contains("b=16"));
  }
  LatencyCalibration c;
  c.constant_ms = 2.0;
  c.scale = {1.5, 2.0, 0.5};
  table.calibration = c;
  const Predictor p(table);
  const auto sums = p.group_sums(m0);
  CHECK_THAT(p.cost(m0), WithinRel(2.0 + 1.5 * sums[0] + 2.0 * sums[1] + 0.5 * sums[2], 1e-12));
  CHECK_THAT(p.prediction(m0).ms, WithinRel(p.cost(m0), 1e-12));
}

TEST_CASE("calibration: least squares recovers a known correction", "[latency]") {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(1.0, 30.0);
  std::vector<CalibrationPoint> points;
  for (int i = 0; i < 12; ++i) {
    CalibrationPoint p{"n" + std::to_string(i), {u(rng), u(rng), u(rng)}, 0};
    p.measured_ms = 1.7 + 1.1 * p.group_sums[0] + 0.9 * p.group_sums[1] + 1.3 * p.group_sums[2];
    points.push_back(p);
  }
  const LatencyCalibration c = fit_calibration(points);
  CHECK_THAT(c.constant_ms, WithinRel(1.7, 1e-6));
  CHECK_THAT(c.scale[0], WithinRel(1.1, 1e-6));
  CHECK_THAT(c.scale[1], WithinRel(0.9, 1e-6));
  CHECK_THAT(c.scale[2], WithinRel(1.3, 1e-6));
  CHECK(c.fit_mape < 1e-6);
  CHECK(c.networks.size() == 12);

  SECTION("few points: one common scale (and a constant from two points on)") {
    std::vector<CalibrationPoint> two(points.begin(), points.begin() + 2);
    const LatencyCalibration c2 = fit_calibration(two);
    CHECK(c2.scale[0] == c2.scale[1]);
    CHECK(c2.fit_mape < 1e-6);  // two points, two unknowns
    std::vector<CalibrationPoint> one(points.begin(), points.begin() + 1);
    const LatencyCalibration c1 = fit_calibration(one);
    CHECK(c1.constant_ms == 0);
    CHECK_THAT(calibrated_ms(c1, one[0].group_sums), WithinRel(one[0].measured_ms, 1e-9));
  }
  SECTION("an unphysical fit falls back to a simpler form") {
    // The larger network measured faster (noise): scale + constant would need a negative scale.
    const std::vector<CalibrationPoint> noisy = {{"a", {0, 10, 0}, 12}, {"b", {0, 11, 0}, 11}};
    const LatencyCalibration c3 = fit_calibration(noisy);
    CHECK(c3.constant_ms == 0);
    CHECK(c3.scale[1] > 0);
  }
  CHECK_THROWS_AS(fit_calibration({}), InputError);
}

TEST_CASE("validation statistics", "[latency]") {
  CHECK(kendall_tau({1, 2, 3, 4}, {10, 20, 30, 40}) == 1.0);
  CHECK(kendall_tau({1, 2, 3, 4}, {40, 30, 20, 10}) == -1.0);
  CHECK_THAT(kendall_tau({1, 2, 3}, {1, 3, 2}), WithinRel(1.0 / 3.0, 1e-12));
  const ValidationStats s = validation_stats({10.2, 19.0, 33.0}, {10.0, 20.0, 30.0});
  CHECK(s.n == 3);
  CHECK_THAT(s.mape, WithinRel((2.0 + 5.0 + 10.0) / 3.0, 1e-9));
  CHECK_THAT(s.max_error, WithinRel(10.0, 1e-9));
  CHECK_THAT(s.within_5, WithinRel(2.0 / 3.0, 1e-12));
  CHECK(s.within_10 == 1.0);
  CHECK(s.kendall_tau == 1.0);
}

TEST_CASE("latency table files round trip and reject corruption", "[latency]") {
  LatencyTable t = synthetic_table({preset("m0")});
  t.networks.push_back({preset("m0"), {24.0, 0.05, 20, 1}});
  t.calibration = LatencyCalibration{1.0, {1.0, 1.1, 1.2}, {"m0"}, 0.5};
  const std::string path = test::scratch_path("table.json");
  save_table(t, path);
  const LatencyTable back = load_table(path);
  CHECK(back.entries.size() == t.entries.size());
  CHECK(back.networks.size() == 1);
  CHECK(back.networks[0].arch == preset("m0"));
  CHECK(back.calibration->scale[2] == 1.2);
  CHECK(Predictor(back).cost(preset("m0")) == Predictor(t).cost(preset("m0")));

  const std::string text = read_file(path);
  const std::string bad = test::scratch_path("bad_table.json");
  SECTION("truncated") {
    write_file_atomic(bad, text.substr(0, text.size() / 2));
    CHECK_THROWS_WITH(load_table(bad), Contains(bad));
  }
  SECTION("not a table") {
    write_file_atomic(bad, "{\"entries\": {}}");
    CHECK_THROWS_WITH(load_table(bad), Contains("not a vitnas latency table"));
  }
  SECTION("a corrupt entry") {
    auto j = nlohmann::json::parse(text);
    j["entries"]["dw b=16 r=14 c=64"]["median_ms"] = -1;
    write_file_atomic(bad, j.dump());
    CHECK_THROWS_WITH(load_table(bad), Contains("dw b=16 r=14 c=64"));
    j["entries"]["dw b=16 r=14"] = j["entries"]["dw b=16 r=14 c=64"];
    write_file_atomic(bad, j.dump());
    CHECK_THROWS_WITH(load_table(bad), Contains("missing field c"));
  }
}

TEST_CASE("device fingerprints: a table refuses another device", "[latency]") {
  const DeviceInfo here = current_device(DeviceKind::cpu, 1, 16, "float32");
  CHECK(!here.model.empty());
  // An x86 CPU's model carries its widest vector ISA: one model name covers machine kinds with
  // and without AVX-512, whose op latencies differ by 2-3x.
  std::ifstream cpuinfo("/proc/cpuinfo");
  const std::string info{std::istreambuf_iterator<char>(cpuinfo), std::istreambuf_iterator<char>()};
  if (info.find("\nflags") != std::string::npos) {
    const bool avx512 = info.find(" avx512f") != std::string::npos;
    const bool avx2 = info.find(" avx2") != std::string::npos;
    CHECK_THAT(here.model, EndsWith(avx512 ? "(avx512)" : avx2 ? "(avx2)" : "(no avx2)"));
  }
  CHECK_NOTHROW(require_same_device(here, here, "t.json"));
  DeviceInfo other = here;
  other.threads = 2;
  CHECK_THROWS_WITH(require_same_device(other, here, "t.json"), Contains("threads"));
  other = here;
  other.model = "Some Other CPU";
  CHECK_THROWS_WITH(require_same_device(other, here, "t.json"), Contains("Some Other CPU"));
  CHECK_THROWS_AS(current_device(device_kind_of("tpu"), 1, 16, "float32"), InputError);
}

TEST_CASE("op measurement: every op kind runs and takes time", "[latency]") {
  const ArchSpec custom = arch_from_json(nlohmann::json::parse(test::kCustomSpec));
  TimingOptions quick{0.0, 1, 0.0, 3, 0.0};
  std::set<OpKind> kinds;
  for (const auto& s : arch_signatures({custom}, 2)) {
    INFO(s.key());
    const TableEntry e = measure_op(s, torch::kCPU, torch::kFloat32, quick);
    CHECK(e.median_ms > 0);
    CHECK(e.samples + e.rejected == 3);
    kinds.insert(s.op);
  }
  CHECK(kinds.size() == kOpKinds);
  CHECK(measure_network(custom, 2, torch::kCPU, torch::kFloat32, quick).median_ms > 0);
}
