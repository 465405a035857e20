// The architecture walk: the window rule by hand, rows and parts in forward order with the
// official module names (checked against the official state-dict keys in ../shared/reference).
#include <catch2/catch.hpp>

#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/arch_walk.h"
#include "core/complexity.h"
#include "fixtures.h"

using namespace vitnas;

namespace {

// Every module prefix of the official keys ("blocks1.0.dw0.m.c.weight" gives "blocks1",
// "blocks1.0", "blocks1.0.dw0", ...).
std::set<std::string> official_prefixes(const std::string& preset) {
  std::ifstream in(std::string(VITNAS_REFERENCE_DIR) + "/efficientvit/keys_" + preset + ".tsv");
  REQUIRE(in.good());
  std::set<std::string> prefixes;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    const std::string key = line.substr(0, line.find('\t'));
    for (size_t dot = key.find('.'); dot != std::string::npos; dot = key.find('.', dot + 1))
      prefixes.insert(key.substr(0, dot));
  }
  return prefixes;
}

// Records every event as one line, e.g. "row blocks2.0 subsample_ffn", "dw blocks2.0.0".
struct Recorder : ArchVisitor {
  std::vector<std::string> events;
  std::vector<std::string> paths;  // module paths of the parts that have their own module
  void begin_stage(const Stage& s) override { events.push_back("stage " + s.name()); }
  void begin_row(const Row& r) override { events.push_back("row " + r.name() + " " + to_string(r.type)); }
  void stem(const Row& r, const StemPart&) override { events.push_back("stem"); paths.push_back(r.name()); }
  void dw(const Row& r, const DWPart& p) override { events.push_back("dw " + module_path(r, p)); paths.push_back(module_path(r, p)); }
  void ffn(const Row& r, const FFNPart& p) override { events.push_back("ffn " + module_path(r, p)); paths.push_back(module_path(r, p)); }
  void attention(const Row& r, const AttentionPart& p) override {
    events.push_back("attention " + module_path(r, p) + " R" + std::to_string(p.geometry.window) +
                     " x" + std::to_string(p.geometry.count()));
    paths.push_back(module_path(r, p));
  }
  void patch_merging(const Row& r, const PatchMergingPart& p) override {
    events.push_back("patch_merging " + r.name() + " " + std::to_string(p.side) + "->" +
                     std::to_string(p.out_side));
    paths.push_back(r.name());
  }
  void head(const Row& r, const HeadPart& h) override {
    events.push_back("head " + std::to_string(h.side));
    paths.push_back(r.name());
  }
};

}  // namespace

TEST_CASE("window rule: capped at the map, padded to whole windows", "[walk]") {
  struct Case { int side, window, R, padded, per_side; };
  for (const Case& c : {Case{14, 7, 7, 14, 2}, Case{4, 7, 4, 4, 1}, Case{7, 7, 7, 7, 1},
                        Case{10, 7, 7, 14, 2}, Case{8, 3, 3, 9, 3}, Case{15, 7, 7, 21, 3},
                        Case{1, 7, 1, 1, 1}}) {
    INFO("side " << c.side << " window " << c.window);
    const WindowGeometry g = window_geometry(c.side, c.window);
    CHECK(g.window == c.R);
    CHECK(g.padded == c.padded);
    CHECK(g.per_side == c.per_side);
    CHECK(g.count() == c.per_side * c.per_side);
    CHECK(g.tokens() == c.R * c.R);
    CHECK(g.whole_map() == (c.side <= c.window));
  }
}

TEST_CASE("walk: m0 in forward order, by hand", "[walk]") {
  Recorder r;
  walk(preset("m0"), r);
  // m0: 224 -> stem 14; stage 1 (14, one 2x2 of windows), stage 2 at 7, stage 3 at 4.
  const std::vector<std::string> expected = {
      "row patch_embed stem", "stem",
      "stage blocks1", "row blocks1.0 block", "dw blocks1.0.dw0", "ffn blocks1.0.ffn0",
      "attention blocks1.0.mixer R7 x4", "dw blocks1.0.dw1", "ffn blocks1.0.ffn1",
      "stage blocks2", "row blocks2.0 subsample_ffn", "dw blocks2.0.0", "ffn blocks2.0.1",
      "row blocks2.1 patch_merging", "patch_merging blocks2.1 14->7",
      "row blocks2.2 subsample_ffn", "dw blocks2.2.0", "ffn blocks2.2.1",
      "row blocks2.3 block", "dw blocks2.3.dw0", "ffn blocks2.3.ffn0",
      "attention blocks2.3.mixer R7 x1", "dw blocks2.3.dw1", "ffn blocks2.3.ffn1",
      "row blocks2.4 block", "dw blocks2.4.dw0", "ffn blocks2.4.ffn0",
      "attention blocks2.4.mixer R7 x1", "dw blocks2.4.dw1", "ffn blocks2.4.ffn1",
      "stage blocks3", "row blocks3.0 subsample_ffn", "dw blocks3.0.0", "ffn blocks3.0.1",
      "row blocks3.1 patch_merging", "patch_merging blocks3.1 7->4",
      "row blocks3.2 subsample_ffn", "dw blocks3.2.0", "ffn blocks3.2.1",
      "row blocks3.3 block", "dw blocks3.3.dw0", "ffn blocks3.3.ffn0",
      "attention blocks3.3.mixer R4 x1", "dw blocks3.3.dw1", "ffn blocks3.3.ffn1",
      "row blocks3.4 block", "dw blocks3.4.dw0", "ffn blocks3.4.ffn0",
      "attention blocks3.4.mixer R4 x1", "dw blocks3.4.dw1", "ffn blocks3.4.ffn1",
      "row blocks3.5 block", "dw blocks3.5.dw0", "ffn blocks3.5.ffn0",
      "attention blocks3.5.mixer R4 x1", "dw blocks3.5.dw1", "ffn blocks3.5.ffn1",
      "row head head", "head 4"};
  CHECK(r.events == expected);
}

TEST_CASE("walk: every part's module path is an official module of m0..m5", "[walk]") {
  for (const auto& name : {"m0", "m1", "m2", "m3", "m4", "m5"}) {
    INFO(name);
    const auto prefixes = official_prefixes(name);
    Recorder r;
    walk(preset(name), r);
    for (const auto& path : r.paths) {
      INFO(path);
      CHECK(prefixes.count(path) == 1);
    }
  }
}

TEST_CASE("walk: rows are complexity()'s rows, for both families", "[walk]") {
  for (const auto& spec : {preset("m5"), arch_from_json(nlohmann::json::parse(test::kCustomSpec)),
                           preset("vit_7_4_32"), preset("deit_tiny")}) {
    INFO(spec.name);
    struct Rows : ArchVisitor {
      std::vector<Row> rows;
      void begin_row(const Row& r) override { rows.push_back(r); }
    } v;
    walk(spec, v);
    const Complexity c = complexity(spec);
    REQUIRE(v.rows.size() == c.blocks.size());
    for (size_t i = 0; i < v.rows.size(); ++i) {
      CHECK(v.rows[i].index == int(i));
      CHECK(v.rows[i].name() == c.blocks[i].name);
      CHECK(to_string(v.rows[i].type) == c.blocks[i].type);
    }
  }
}

TEST_CASE("walk: the custom spec's windows, empty subsample sides and attention-free block", "[walk]") {
  Recorder r;
  walk(arch_from_json(nlohmann::json::parse(test::kCustomSpec)), r);
  const auto has = [&](const std::string& e) {
    return std::find(r.events.begin(), r.events.end(), e) != r.events.end();
  };
  // 32 -> stem of 2 -> 8: window 4 gives 2x2 windows; stage 2 at 4: one; stage 3 at 2, window 7
  // capped to 2.
  CHECK(has("attention blocks1.0.mixer R4 x4"));
  CHECK(has("attention blocks2.3.mixer R4 x1"));
  CHECK(has("row blocks2.2 subsample_ffn"));  // a row without parts (ffn_after is empty)
  CHECK_FALSE(has("dw blocks2.2.0"));
  CHECK(has("row blocks3.0 subsample_ffn"));
  CHECK(has("dw blocks3.2.0"));
  CHECK(has("stage blocks3"));
  CHECK(has("head 2"));
  // blocks1.1 has no attention: dw0, ffn0 only.
  CHECK(has("dw blocks1.1.dw0"));
  CHECK_FALSE(has("attention blocks1.1.mixer R4 x4"));
}
