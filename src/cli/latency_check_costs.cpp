// vitnas latency check-costs: the analytic MPC model against rounds and bytes measured on a real
// 2-party engine (../shared/reference/mpc/crypten_measured.json), op by op and network by
// network (profile/mpc_reference.h).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/io.h"
#include "profile/mpc_reference.h"

namespace vitnas::cli {

namespace {

struct CheckCostsOptions {
  CommonOptions common;
  std::string reference;
  std::string costs;  // cost table JSON; default CrypTen's built-in table
  std::string csv;
};

void write_csv(const std::string& path, const std::vector<ReferenceCheck>& checks) {
  std::ostringstream out;
  out << "kind,name,measured_rounds,predicted_rounds,measured_bytes,predicted_bytes,bytes_error_pct\n";
  for (const auto& c : checks)
    out << c.kind << ",\"" << c.name << "\"," << c.measured_rounds << ',' << c.predicted_rounds
        << ',' << std::llround(c.measured_bytes) << ',' << std::llround(c.predicted_bytes) << ','
        << 100.0 * c.bytes_error() << '\n';
  write_file_atomic(path, out.str());
}

void run_check_costs(const CheckCostsOptions& o) {
  apply_common_options(o.common);
  const CostTable t = o.costs.empty() ? crypten_cost_table() : load_cost_table(o.costs);
  const std::vector<ReferenceCheck> checks = check_against_reference_file(o.reference, t);
  if (!o.csv.empty()) write_csv(o.csv, checks);

  int rounds_exact = 0;
  double max_bytes_error = 0;
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& c : checks) {
    rounds_exact += c.predicted_rounds == c.measured_rounds;
    max_bytes_error = std::max(max_bytes_error, std::abs(c.bytes_error()));
    rows.push_back({{"kind", c.kind}, {"name", c.name},
                    {"measured_rounds", c.measured_rounds}, {"predicted_rounds", c.predicted_rounds},
                    {"measured_bytes", c.measured_bytes}, {"predicted_bytes", c.predicted_bytes},
                    {"bytes_error_pct", 100.0 * c.bytes_error()}});
  }
  if (o.common.json) {
    print_json({{"reference", o.reference}, {"costs", t.name}, {"checks", rows},
                {"rounds_exact", rounds_exact}, {"max_bytes_error_pct", 100.0 * max_bytes_error}});
    return;
  }
  std::printf("%-8s %-34s %8s %8s %14s %14s %9s\n", "kind", "name", "rounds", "model",
              "bytes", "model", "bytes err");
  for (const auto& c : checks)
    std::printf("%-8s %-34s %8.0f %8.0f %14.0f %14.0f %+8.3f%%\n", c.kind.c_str(), c.name.c_str(),
                c.measured_rounds, c.predicted_rounds, c.measured_bytes, c.predicted_bytes,
                100.0 * c.bytes_error());
  std::printf("%zu checks against %s with cost table '%s': rounds exact in %d, max |bytes error| "
              "%.3f%%\n",
              checks.size(), o.reference.c_str(), t.name.c_str(), rounds_exact,
              100.0 * max_bytes_error);
}

}  // namespace

void register_check_costs(CLI::App& latency) {
  auto o = std::make_shared<CheckCostsOptions>();
  auto* sub = latency.add_subcommand(
      "check-costs", "the MPC cost model against rounds and bytes measured on a 2-party engine");
  sub->add_option("--reference", o->reference,
                  "measured costs JSON (../shared/reference/mpc/crypten_measured.json)")
      ->required();
  sub->add_option("--costs", o->costs, "cost table JSON (default: CrypTen, REFERENCE.md)");
  sub->add_option("--csv", o->csv, "also write every check here");
  add_common_options(*sub, o->common);
  sub->callback([o] { run_check_costs(*o); });
}

}  // namespace vitnas::cli
