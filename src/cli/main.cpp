// vitnas: hardware-aware architecture search and pruning for vision transformers.
// main parses, dispatches to a subcommand, and turns errors into one line and an exit code:
// 0 success, 2 bad input (fix a flag, file or architecture), 1 anything else.
#include <malloc.h>

#include <iostream>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"

int main(int argc, char** argv) {
  // Keep freed activation buffers in the heap instead of returning them to the OS: glibc's
  // default mmap()s every block over 128 KiB-32 MiB and unmaps it on free, so each forward pass
  // page-faults its activations in again (measured: 5 ms of a 35 ms EfficientViT-M0 batch).
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
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

  try {
    std::vector<std::string> args(argv + 1, argv + argc);
    args = vitnas::cli::expand_config(app, args);
    std::reverse(args.begin(), args.end());  // CLI11 consumes a reversed vector
    app.parse(args);
    return 0;
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // prints help/version, or the parse error
    return code == 0 ? 0 : 2;
  } catch (const vitnas::InputError& e) {
    std::cerr << "error: " << e.what() << std::endl;
    return 2;
  } catch (const c10::Error& e) {
    std::cerr << "error: " << e.what_without_backtrace() << std::endl;
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << std::endl;
    return 1;
  }
}
