// vitnas: hardware-aware architecture search and pruning for vision transformers.
// main parses, dispatches to a subcommand, and turns errors into one line and an exit code:
// 0 success, 2 bad input (fix a flag, file or architecture), 1 anything else.
#include <malloc.h>

#include <cstdlib>
#include <iostream>
#include <string>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"

namespace {

// The error contract is one line: fold any line breaks of a message into "; ".
std::string one_line(std::string message) {
  while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) message.pop_back();
  for (size_t pos; (pos = message.find('\n')) != std::string::npos;) message.replace(pos, 1, "; ");
  return message;
}

// CLI11 reports an unknown command as "A subcommand is required"; name it and the commands.
void check_command(const CLI::App& app, const std::vector<std::string>& args) {
  if (args.empty() || args[0].rfind('-', 0) == 0) return;
  std::string names;
  for (const auto* sub : app.get_subcommands({})) {
    if (sub->get_name() == args[0]) return;
    names += (names.empty() ? "" : ", ") + sub->get_name();
  }
  throw vitnas::InputError("unknown command '" + args[0] + "' (use one of: " + names +
                           "; see --help)");
}

}  // namespace

int main(int argc, char** argv) {
  // Keep freed activation buffers in the heap instead of returning them to the OS: glibc's
  // default mmap()s every block over 128 KiB-32 MiB and unmaps it on free, so each forward pass
  // page-faults its activations in again (measured: 5 ms of a 35 ms EfficientViT-M0 batch, and
  // half of an M0 training step). VITNAS_GLIBC_MALLOC=default keeps glibc's settings, so
  // benchmarks/train_step.sh can show the difference.
  const char* malloc_mode = std::getenv("VITNAS_GLIBC_MALLOC");
  if (malloc_mode == nullptr || std::string(malloc_mode) != "default") {
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
  }
  // Logs go to stderr so that --json output on stdout stays parseable.
  spdlog::set_default_logger(spdlog::stderr_color_mt("vitnas"));
  spdlog::set_pattern("[%H:%M:%S] [%^%l%$] %v");

  CLI::App app{"vitnas: hardware-aware NAS and pruning of vision transformers"};
  app.set_version_flag("--version", std::string(VITNAS_VERSION));
  app.require_subcommand(1);
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  vitnas::cli::register_info(app);
  vitnas::cli::register_bench(app);
  vitnas::cli::register_forward(app);
  vitnas::cli::register_profile(app);
  vitnas::cli::register_latency(app);
  vitnas::cli::register_train(app);
  vitnas::cli::register_bench_train(app);
  vitnas::cli::register_supernet(app);
  vitnas::cli::register_search(app);
  vitnas::cli::register_search_mpc(app);
  vitnas::cli::register_prune(app);
  vitnas::cli::register_export(app);
  vitnas::cli::register_report(app);

  try {
    vitnas::cli::set_command_line({argv, argv + argc});
    std::vector<std::string> args(argv + 1, argv + argc);
    check_command(app, args);
    args = vitnas::cli::expand_config(app, args);
    std::reverse(args.begin(), args.end());  // CLI11 consumes a reversed vector
    app.parse(args);
    return 0;
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::cerr << "error: " << one_line(e.what()) << " (see --help)" << std::endl;
    return 2;
  } catch (const vitnas::InputError& e) {
    std::cerr << "error: " << one_line(e.what()) << std::endl;
    return 2;
  } catch (const c10::Error& e) {
    std::cerr << "error: " << one_line(e.what_without_backtrace()) << std::endl;
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << one_line(e.what()) << std::endl;
    return 1;
  }
}
