// Shared by the fuzz targets. The JSON and safetensors targets parse the input in memory; the
// loaders that only take a path read it from an in-memory file (write_input), and the CIFAR target,
// which reads fixed file names from a folder, from a per-process folder (temp_dir). Writing a
// disk file per execution made the path-reading targets 3-8x slower (~3,000 executions/s).
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "core/io.h"

namespace vitnas_fuzz {

inline std::string as_text(const uint8_t* data, size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

// The input as JSON, through the same strict reader as every JSON file (read_json_file).
inline nlohmann::json parse(const uint8_t* data, size_t size, const std::string& name) {
  return vitnas::parse_json(as_text(data, size), name);
}

// <$TMPDIR, else /dev/shm (memory), else /tmp>/vitnas-fuzz-<pid>/, created once (parallel fuzzer
// jobs never share one); removed at exit so runs leave nothing behind.
inline const std::filesystem::path& temp_dir() {
  static const std::filesystem::path dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    const std::filesystem::path base = tmp && *tmp                           ? tmp
                                       : std::filesystem::is_directory("/dev/shm") ? "/dev/shm"
                                                                                   : "/tmp";
    std::filesystem::path d = base / ("vitnas-fuzz-" + std::to_string(::getpid()));
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
inline std::string write_file(const uint8_t* data, size_t size, const std::string& name) {
  const std::string path = (temp_dir() / name).string();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out.good()) std::abort();  // the harness, not the parser, failed: stop loudly
  return path;
}

// Puts the input in an in-memory file (memfd, one per name, reused) and returns a path that
// opens it, /proc/self/fd/<fd>: the loader reads it as any regular file.
inline std::string write_input(const uint8_t* data, size_t size, const std::string& name) {
  static std::map<std::string, int> fds;
  auto [it, added] = fds.try_emplace(name, -1);
  if (added) it->second = ::memfd_create(name.c_str(), 0);
  const int fd = it->second;
  if (fd < 0 || ::ftruncate(fd, 0) != 0) std::abort();  // the harness failed: stop loudly
  for (size_t done = 0; done < size;) {
    const ssize_t n = ::pwrite(fd, data + done, size - done, static_cast<off_t>(done));
    if (n <= 0) std::abort();
    done += static_cast<size_t>(n);
  }
  return "/proc/self/fd/" + std::to_string(fd);
}

}  // namespace vitnas_fuzz
