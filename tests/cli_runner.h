// Running the vitnas binary from tests: exit code, stdout and stderr of one run.
#pragma once

#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include <nlohmann/json.hpp>

#include "fixtures.h"

namespace vitnas::test {

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

// One run of the binary: its exit code and what it printed.
struct CliRun {
  int code = -1;
  std::string out, err;

  // Bad input: exit 2 with exactly one line on stderr, "error: ...".
  bool is_input_error() const {
    return code == 2 && err.rfind("error: ", 0) == 0 &&
           std::count(err.begin(), err.end(), '\n') == 1 && err.back() == '\n';
  }
  nlohmann::json out_json() const { return nlohmann::json::parse(out); }
};

// Runs `vitnas ARGS` (ARGS is shell text: quote paths with q()).
inline CliRun run_cli(const std::string& args) {
  const std::string out = scratch_path("cli_stdout.txt"), err = scratch_path("cli_stderr.txt");
  const std::string cmd =
      std::string("'") + VITNAS_CLI_PATH + "' " + args + " >'" + out + "' 2>'" + err + "'";
  const int status = std::system(cmd.c_str());
  CliRun r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_text(out);
  r.err = read_text(err);
  return r;
}

inline std::string q(const std::string& s) { return "'" + s + "'"; }

}  // namespace vitnas::test
