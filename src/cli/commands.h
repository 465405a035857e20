// Each subcommand lives in its own file and registers itself on the root app.
#pragma once

#include <CLI/CLI.hpp>

namespace vitnas::cli {

void register_info(CLI::App& root);
void register_bench(CLI::App& root);
void register_forward(CLI::App& root);
void register_profile(CLI::App& root);
void register_latency(CLI::App& root);
void register_check_costs(CLI::App& latency);  // latency check-costs
void register_train(CLI::App& root);
void register_bench_train(CLI::App& root);
void register_supernet(CLI::App& root);
void register_search(CLI::App& root);
const CLI::App* register_search_finetune(CLI::App& search);  // search finetune
void register_search_mpc(CLI::App& root);
void register_prune(CLI::App& root);
void register_export(CLI::App& root);
void register_report(CLI::App& root);

}  // namespace vitnas::cli
