// The analytic MPC model against CrypTen: every single op and whole network measured in
// ../shared/reference/mpc/crypten_measured.json (real 2-party runs), predicted from the cost
// table's primitives. The bar: rounds exact, bytes within 2%.
#include <cmath>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/io.h"
#include "profile/mpc_cost_table.h"
#include "profile/mpc_ops.h"
#include "profile/mpc_reference.h"

using namespace vitnas;
using nlohmann::json;

namespace {
const std::string kMeasured = std::string(VITNAS_REFERENCE_DIR) + "/mpc/crypten_measured.json";
}

TEST_CASE("CrypTen reference: every measured op and network, rounds exact, bytes within 2%",
          "[mpc]") {
  const auto checks = check_against_reference_file(kMeasured, crypten_cost_table());
  int ops = 0, nets = 0;
  for (const auto& c : checks) {
    INFO(c.kind << " " << c.name << ": measured " << c.measured_rounds << " rounds, "
                << c.measured_bytes << " B; predicted " << c.predicted_rounds << " rounds, "
                << c.predicted_bytes << " B");
    CHECK(c.predicted_rounds == c.measured_rounds);
    CHECK(std::abs(c.bytes_error()) <= 0.02);
    (c.kind == "op" ? ops : nets) += 1;
  }
  CHECK(ops == 82);   // the file's ops[] and networks[], none skipped
  CHECK(nets == 11);
}

// The row max is derived from CrypTen's algorithm, not fitted: at every N the file measured
// (16, 49, 65, 257) its bytes are exact, including the EfficientViT windows of 16 and 49 tokens
// that the old two-point fit (N = 65, 257) mispredicted by 2 rounds and 15%.
TEST_CASE("CrypTen reference: the row max is exact at every measured N", "[mpc]") {
  const json j = read_json_file(kMeasured);
  CostTable tree = crypten_cost_table();
  tree.row_max = "tree";
  const CostTable argmax = crypten_cost_table();
  int seen = 0;
  for (const auto& o : j.at("ops")) {
    const std::string op = o.at("op");
    if (op != "max_tree" && op != "max_crypten") continue;
    const int64_t n = o.at("N"), rows = o.at("n_elements").get<int64_t>() / n;
    const MpcCost c = row_max_cost(rows, n, op == "max_tree" ? tree : argmax);
    INFO(op << " N=" << n << " rows=" << rows);
    CHECK(c.rounds == o.at("rounds").get<double>());
    CHECK(c.bytes == o.at("bytes").get<double>());
    ++seen;
  }
  CHECK(seen == 16);  // 4 N, each at 2 sizes, both forms
}

// Hand-computed from CrypTen's maximum.py: N = 16, floor(ln 16) = 2 halvings (8, then 4 pairs:
// compare + two multiplies each), pairwise on 4 (12 compares, a product over 3 in 2 multiply
// levels of 4, weighted_index: random + multiply + 4 compares, then 4 multiplies).
TEST_CASE("row max of 16 by hand", "[mpc]") {
  CostTable t = crypten_cost_table();
  t.row_max = "tree";
  const MpcCost c = row_max_cost(1, 16, t);
  CHECK(c.rounds == 2 * (8 + 1 + 1) + 8 + 2 + (1 + 1 + 8) + 1);
  CHECK(c.bytes == 248.0 * (8 + 4) + 216.0 * 12 + 16.0 * (4 + 4) + (128 + 16 + 216 * 4) + 16 * 4);
  CHECK(row_max_cost(1, 1, t).rounds == 0);  // the max of one value is free
}

TEST_CASE("CrypTen reference: a file the model cannot read is refused by name", "[mpc]") {
  json j = read_json_file(kMeasured);
  j["ops"][3]["op"] = "softplus";
  try {
    check_against_reference(j, crypten_cost_table());
    FAIL("no InputError");
  } catch (const InputError& e) {
    CHECK_THAT(e.what(), Catch::Contains("ops[3].op") && Catch::Contains("softplus"));
  }
  json bad_spec = read_json_file(kMeasured);
  bad_spec["networks"][0]["spec"]["layers"] = "seven";
  CHECK_THROWS_AS(check_against_reference(bad_spec, crypten_cost_table()), InputError);
}
