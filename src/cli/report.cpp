// vitnas report --out report.html [--search DIR] [--prune DIR] [--train DIR] [--table T.json
// [--arch A,B]] [--validation CSV]: one self-contained HTML page of those results
// (export/report.h), written atomically.
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "core/io.h"
#include "export/report.h"

namespace vitnas::cli {

namespace {

struct ReportCliOptions {
  CommonOptions common;
  ReportInputs in;
  std::string out;
};

void run_report(const ReportCliOptions& o) {
  apply_common_options(o.common);
  require_writable(o.out, "--out");
  write_file_atomic(o.out, render_report(o.in));
  spdlog::info("wrote {}", o.out);
  if (o.common.json) print_json({{"out", o.out}});
}

}  // namespace

void register_report(CLI::App& root) {
  auto o = std::make_shared<ReportCliOptions>();
  auto* sub = root.add_subcommand(
      "report", "one self-contained HTML page (inline SVG plots) of search, pruning, latency and "
                "training results");
  sub->add_option("--out", o->out, "the .html file to write")->required();
  sub->add_option("--search", o->in.search, "a `vitnas search --out` folder: the front, every evaluated network, the reference networks");
  sub->add_option("--prune", o->in.prune, "a `vitnas prune --out` or `prune analyse --out` folder: kept widths");
  sub->add_option("--train", o->in.train, "a `vitnas train --out` or `supernet train --out` folder: training curves");
  sub->add_option("--table", o->in.table, "a latency table: per-block latency of the --arch networks");
  sub->add_option("--arch", o->in.archs, "networks (presets or ArchSpec JSON, comma-separated) to draw from --table")
      ->delimiter(',');
  sub->add_option("--validation", o->in.validation, "a `latency validate --csv` file: measured vs predicted");
  sub->add_option("--title", o->in.title, "the page's title")->capture_default_str();
  add_common_options(*sub, o->common);
  sub->callback([o] { run_report(*o); });
}

}  // namespace vitnas::cli
