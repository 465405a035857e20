// `vitnas report`: one self-contained HTML page (inline SVG, no scripts, no network) of what the
// other commands wrote: a search's front with its reference networks, per-block latency of
// networks from a table, a table's measured vs predicted scatter, pruning's kept widths, and
// training curves. Each input is read as the file kind its command writes; a folder or file of
// another kind is an InputError naming the flag and what it should be.
#pragma once

#include <string>
#include <vector>

namespace vitnas {

struct ReportInputs {
  std::string title = "vitnas report";
  std::string search;             // `vitnas search --out` folder: front.json (+ history.jsonl)
  std::string prune;              // `vitnas prune --out` (prune_log.jsonl) or `prune analyse --out` (kept.csv)
  std::string train;              // `vitnas train --out` or `supernet train --out`: metrics.jsonl
  std::string table;              // a latency table ...
  std::vector<std::string> archs; // ... and the networks whose per-block latency it draws
  std::string validation;         // `latency validate --csv` output: measured vs predicted
};

std::string render_report(const ReportInputs& inputs);

}  // namespace vitnas
