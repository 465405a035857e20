// What every subcommand shares: JSON config files, logging, threads/devices, model loading,
// progress bars and output. Subcommand files stay short scripts: parse, call the library, print.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "core/arch_spec.h"
#include "models/classifier.h"

namespace vitnas::cli {

// Options every subcommand has.
struct CommonOptions {
  std::string log_level = "info";
  bool json = false;  // machine-readable output on stdout
};
void add_common_options(CLI::App& sub, CommonOptions& common);
void apply_common_options(const CommonOptions& common);  // sets the spdlog level

// `vitnas CMD --config FILE.json [flags]`: the JSON object's keys are CMD's long flag names
// ({"arch": "m0", "batch": 32, "json": true}); its values are spliced in as flags, except
// those the command line sets itself, which override the file. Unknown keys are an InputError
// naming the file and key.
std::vector<std::string> expand_config(const CLI::App& root, std::vector<std::string> args);

// Validated torch settings.
torch::Device parse_device(const std::string& name);  // "cpu", "cuda", "cuda:1"
// Intra-op threads, 1 .. machine_cores(): more only oversubscribes the cores, so a table that
// claims more threads than this machine has cannot be measured or validated here. `what` names
// the source of the number in the error ("--threads", or the table file).
void set_threads(int threads, const std::string& what = "--threads");
int machine_cores();                                    // hardware threads (>= 1)

// An architecture (preset or JSON) built as a model, with weights if a path is given, else
// the default initialisation with `seed`.
Classifier load_model(const std::string& arch, const std::string& weights, uint64_t seed = 0);

// A one-line progress bar on stderr ("label [=====>    ] 45% ETA 12s"), redrawn at most
// a few times a second when stderr is a terminal; otherwise (a log file, a pipe, a batch job)
// a plain line "label 45% ETA 12s ..." every 10 seconds.
class Progress {
 public:
  explicit Progress(std::string label);
  ~Progress();
  // status: extra text after the bar ("loss 0.412 top-1 86.1% 1520 img/s").
  void update(double fraction, const std::string& status = "");

 private:
  std::string label_;
  bool terminal_;
  double start_, last_draw_ = -1.0;
};

void print_json(const nlohmann::json& j);  // pretty JSON on stdout

// The program's own command line (argv, argv[0] included), recorded by main, for commands that
// re-run themselves (train --nproc).
void set_command_line(std::vector<std::string> argv);
const std::vector<std::string>& command_line();

}  // namespace vitnas::cli
