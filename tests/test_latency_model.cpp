// The one latency model (profile/latency_model.h) on both kinds of table: cost() equals
// breakdown()'s total and the hand sum of the table, the unit, allocation-free cost() for cpu;
// the op visitor against a hand-written list of signatures; old-format files ("network" for the
// MPC link) still load.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <map>
#include <new>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/complexity.h"
#include "core/error.h"
#include "core/io.h"
#include "fixtures.h"
#include "profile/latency_model.h"
#include "profile/mpc_model.h"
#include "profile/op_signature.h"

// Counts heap allocations (this binary's operator new), to show that cost() makes none. Every
// unaligned form is replaced, so memory from any of them is freed by its match: with only some
// replaced, AddressSanitizer's own nothrow new met this free() (alloc-dealloc-mismatch).
namespace {
std::atomic<long> g_allocations{0};
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  ++g_allocations;
  return std::malloc(n ? n : 1);
}
void* operator new(std::size_t n) {
  if (void* p = operator new(n, std::nothrow)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

using namespace vitnas;
using Catch::Contains;
using Catch::Matchers::WithinRel;
using nlohmann::json;

namespace {

// test::kCustomSpec's ops at batch 2, written out by hand from its JSON (img 32, stem 16-32 ->
// side 8; stage 1: 32 wide, window 4; stage 2: 48, side 4; stage 3: 64, side 2), with the row
// each belongs to.
const std::vector<std::pair<int, std::string>> kCustomOps = {
    {0, "stem b=2 r=32 c=3 widths=16-32"},
    // blocks1.0: two DW+FFN pairs, independent attention (2 heads on chunks of 16), one pair
    {1, "dw b=2 r=8 c=32"},
    {1, "ffn b=2 r=8 c=32 h=64"},
    {1, "dw b=2 r=8 c=32"},
    {1, "ffn b=2 r=8 c=32 h=48"},
    {1, "attn_frame b=2 r=8 c=32 win=4 heads=2 v=32"},
    {1, "attn_head b=2 r=8 win=4 c=16 kd=8 v=24 q=3 kind=softmax add=0"},
    {1, "attn_head b=2 r=8 win=4 c=16 kd=8 v=8 q=1 kind=relu_softmax add=0"},
    {1, "dw b=2 r=8 c=32"},
    {1, "ffn b=2 r=8 c=32 h=64"},
    // blocks1.1: one pair, no attention
    {2, "dw b=2 r=8 c=32"},
    {2, "ffn b=2 r=8 c=32 h=64"},
    // blocks2.0-2.2: subsample 32 -> 48 (one pair before, PatchMerging, none after)
    {3, "dw b=2 r=8 c=32"},
    {3, "ffn b=2 r=8 c=32 h=64"},
    {4, "patch_merging b=2 r=8 c=32 h=96 o=48"},
    // blocks2.3: cascaded attention, 3 heads (the window 4 is the whole 4x4 map), one pair
    {6, "attn_frame b=2 r=4 c=48 win=4 heads=3 v=48"},
    {6, "attn_head b=2 r=4 win=4 c=16 kd=16 v=16 q=3 kind=scaling add=0"},
    {6, "attn_head b=2 r=4 win=4 c=16 kd=16 v=16 q=5 kind=softmax add=1"},
    {6, "attn_head b=2 r=4 win=4 c=16 kd=16 v=16 q=3 kind=relu_softmax add=1"},
    {6, "dw b=2 r=4 c=48"},
    {6, "ffn b=2 r=4 c=48 h=96"},
    // blocks3.0-3.2: subsample 48 -> 64 (PatchMerging, one pair after); stage 3 has no blocks
    {8, "patch_merging b=2 r=4 c=48 h=128 o=64"},
    {9, "dw b=2 r=2 c=64"},
    {9, "ffn b=2 r=2 c=64 h=128"},
    {10, "head b=2 r=2 c=64 n=10"}};

ArchSpec custom_spec() { return arch_from_json(json::parse(test::kCustomSpec)); }

// A cpu table of kCustomOps with made-up distinct entries, and a known calibration.
LatencyTable custom_table() {
  LatencyTable t;
  t.device = {DeviceKind::cpu, "test cpu", 1, 2, "float32", "libtorch test"};
  double ms = 1.0;
  for (const auto& [row, key] : kCustomOps) {
    if (t.entries.count(key) == 0) t.entries[key] = {ms, 0.01, 15, 0};
    ms += 0.25;
  }
  LatencyCalibration c;
  c.constant_ms = 2.0;
  c.scale = {1.5, 2.0, 0.5};  // stem, conv, attention
  t.calibration = c;
  return t;
}

LatencyTable mpc_table(const std::string& link) {
  return make_mpc_table(crypten_cost_table(), link_profile(link), {});
}

}  // namespace

TEST_CASE("op visitor: the signatures of a spec, by hand", "[latency]") {
  std::vector<std::pair<int, std::string>> ops;
  for_each_op(custom_spec(), 2, [&](int row, const OpSignature& s) { ops.emplace_back(row, s.key()); });
  CHECK(ops == kCustomOps);
  CHECK(complexity(custom_spec()).blocks.size() == 11);
}

TEST_CASE("latency model (cpu): cost is the calibrated hand sum of the table", "[latency]") {
  const LatencyTable table = custom_table();
  const auto model = make_latency_model(table);
  CHECK(model->kind() == DeviceKind::cpu);
  CHECK(model->unit() == "ms");
  CHECK(model->units_per_second() == 1e3);

  // The hand sum: each op's entry, scaled by its group's scale, plus the constant.
  double expected = 2.0;
  for (const auto& [row, key] : kCustomOps) {
    const std::string op = key.substr(0, key.find(' '));
    const double scale = op == "stem" ? 1.5 : op.rfind("attn_", 0) == 0 ? 0.5 : 2.0;
    expected += scale * table.entries.at(key).median_ms;
  }
  const ArchSpec spec = custom_spec();
  CHECK_THAT(model->cost(spec), WithinRel(expected, 1e-12));

  const LatencyBreakdown b = model->breakdown(spec);
  CHECK(b.total == model->cost(spec));
  CHECK(b.overhead == 2.0);
  const auto rows = complexity(spec).blocks;
  REQUIRE(b.rows.size() == rows.size());
  double sum = b.overhead;
  for (size_t i = 0; i < rows.size(); ++i) {
    CHECK(b.rows[i].name == rows[i].name);
    CHECK(b.rows[i].type == rows[i].type);
    sum += b.rows[i].value;
  }
  CHECK_THAT(sum, WithinRel(b.total, 1e-12));
  CHECK(b.rows[5].value == 0);  // blocks2.2: a subsample side without FFNs

  SECTION("cost() allocates nothing (the search calls it millions of times)") {
    const double first = model->cost(spec);
    const long before = g_allocations.load();
    double sink = 0;
    for (int i = 0; i < 100; ++i) sink += model->cost(spec);
    const long after = g_allocations.load();
    CHECK(after == before);
    CHECK(sink == 100 * first);
  }
  SECTION("a missing entry and a vit are input errors") {
    CHECK_THROWS_WITH(model->cost(preset("m0")), Contains("no entry"));
    CHECK_THROWS_WITH(model->cost(preset("vit_7_4_32")), Contains("use --device mpc"));
  }
}

TEST_CASE("latency model (mpc): cost is the calibrated analytic seconds", "[latency][mpc]") {
  LatencyTable table = mpc_table("wan");
  const ArchSpec spec = preset("vit_7_4_32");
  const ArchSpec m0 = preset("m0");
  {
    const auto model = make_latency_model(table);
    CHECK(model->kind() == DeviceKind::mpc);
    CHECK(model->unit() == "s");
    CHECK(model->units_per_second() == 1.0);
    CHECK(model->cost(spec) == mpc_cost(spec, table.mpc->costs, table.mpc->link).seconds);
  }
  MpcCalibration c;
  c.rest_scale = 1.25;
  c.kind_scale[0] = 2.5;
  c.kind_scale[1] = 4.0;
  c.kind_scale[2] = 30.0;
  table.mpc->calibration = c;
  const auto model = make_latency_model(table);
  for (const ArchSpec& a : {spec, m0}) {
    INFO(a.name);
    const MpcBreakdown analytic = mpc_cost(a, table.mpc->costs, table.mpc->link);
    CHECK(model->cost(a) == calibrated_seconds(analytic, c, table.mpc->link));
    const LatencyBreakdown b = model->breakdown(a);
    CHECK(b.total == model->cost(a));
    CHECK(b.overhead == 0);
    const auto rows = complexity(a).blocks;
    REQUIRE(b.rows.size() == rows.size());
    double sum = 0;
    for (size_t i = 0; i < rows.size(); ++i) {
      CHECK(b.rows[i].name == rows[i].name);
      sum += b.rows[i].value;
    }
    CHECK_THAT(sum, WithinRel(b.total, 1e-12));
  }
}

TEST_CASE("latency model: calibrate and predict_measured go through the model", "[latency][mpc]") {
  const std::string dir = std::string(VITNAS_SOURCE_DIR) + "/experiments/mpc/";
  const Measurements m = load_measurements(dir + "mpcvit_cifar10.json");
  const CalibratedTable c = calibrate(mpc_table("wan"), m, "kinds");
  REQUIRE(c.table.mpc->calibration.has_value());
  CHECK_THAT(c.fitted, Contains("softmax x"));
  const auto model = make_latency_model(c.table);
  REQUIRE(c.points.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(c.points[i].label == m.points[i].label);
    CHECK(c.points[i].predicted_s == model->cost(m.points[i].arch));
    CHECK_THAT(c.points[i].predicted_s, WithinRel(m.points[i].seconds, 1e-9));
  }
  CHECK_THROWS_WITH(calibrate(mpc_table("lan"), m), Contains("link 'wan'"));
  CHECK_THROWS_WITH(predict_measured(mpc_table("lan"), m), Contains("link 'lan'"));
}

TEST_CASE("old files with network for the MPC link still load, new files say link", "[latency][mpc]") {
  SECTION("a table") {
    const std::string path = test::scratch_path("old_mpc_table.json");
    save_table(mpc_table("lan"), path);
    json j = read_json_file(path);
    REQUIRE(j["mpc"].contains("link"));
    CHECK(!j["mpc"].contains("network"));
    j["mpc"]["network"] = j["mpc"]["link"];  // the old format
    j["mpc"].erase("link");
    write_json_file_atomic(path, j);
    const LatencyTable old = load_table(path);
    CHECK(old.mpc->link.name == "lan");
    CHECK(old.mpc->link.rtt_s == link_profile("lan").rtt_s);
  }
  SECTION("measured points") {
    const std::string dir = std::string(VITNAS_SOURCE_DIR) + "/experiments/mpc/";
    json j = read_json_file(dir + "mpcvit_cifar10.json");
    REQUIRE(j.contains("link"));
    j["network"] = j["link"];
    j.erase("link");
    for (auto& p : j["points"]) p["arch"] = "vit_7_4_32";
    const std::string path = test::scratch_path("old_points.json");
    write_json_file_atomic(path, j);
    const Measurements m = load_measurements(path);
    CHECK(m.link->name == "wan");
    CHECK(m.points.size() == 3);

    j["link"] = "lan";  // both names: which one?
    write_json_file_atomic(path, j);
    CHECK_THROWS_WITH(load_measurements(path), Contains("network") && Contains(path));
    j.erase("link");
    j["network"] = json{{"rtt_ms", 5}};  // errors name the key the file used
    write_json_file_atomic(path, j);
    CHECK_THROWS_WITH(load_measurements(path), Contains("network.bandwidth_mbit_per_s"));
  }
}
