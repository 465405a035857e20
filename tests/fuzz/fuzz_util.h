// Shared by the fuzz targets: most parsers take a path, so each input is written to a file in a
// per-process temp folder (parallel fuzzer jobs never share one) and the real loader reads it.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace vitnas_fuzz {

// $TMPDIR/vitnas-fuzz-<pid>/, created once; removed at exit so runs leave nothing behind.
inline const std::filesystem::path& temp_dir() {
  static const std::filesystem::path dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::filesystem::path d = std::filesystem::path(tmp && *tmp ? tmp : "/tmp") /
                              ("vitnas-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(temp_dir(), ec);
    });
    return d;
  }();
  return dir;
}

// Writes the input to temp_dir()/name and returns that path.
inline std::string write_input(const uint8_t* data, size_t size, const std::string& name) {
  const std::string path = (temp_dir() / name).string();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out.good()) std::abort();  // the harness, not the parser, failed: stop loudly
  return path;
}

}  // namespace vitnas_fuzz
