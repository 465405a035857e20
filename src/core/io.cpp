#include "core/io.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace vitnas {
namespace fs = std::filesystem;

constexpr std::uintmax_t kMaxReadBytes = std::uintmax_t(1) << 30;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  require(in.good(), path + ": cannot open file (check the path)");
  // Not a device or a pipe (/dev/zero would be read forever), and not more than fits in memory.
  std::error_code ec;
  require(fs::is_regular_file(path, ec), path + ": not a regular file");
  require(fs::file_size(path, ec) <= kMaxReadBytes,
          path + ": larger than the " + std::to_string(kMaxReadBytes >> 20) +
              " MiB any vitnas text file may have");
  std::ostringstream ss;
  ss << in.rdbuf();
  require(!in.bad(), path + ": read error");
  return ss.str();
}

namespace {

// "<path>.tmp.<pid>" files of processes that no longer run: what kill -9 between write and
// rename leaves behind.
void remove_stale_temporaries(const fs::path& path) {
  std::error_code ec;
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  const std::string prefix = path.filename().string() + ".tmp.";
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    const std::string pid = name.substr(prefix.size());
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    const long id = std::stol(pid.substr(0, 9));
    if (::kill(pid_t(id), 0) != 0 && errno == ESRCH) fs::remove(entry.path(), ec);
  }
}

}  // namespace

void write_file_atomic(const std::string& path, const std::string& bytes) {
  remove_stale_temporaries(path);
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    require(out.good(), path + ": cannot write (check that the folder exists and is writable)");
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out.good()) {
      std::remove(tmp.c_str());
      throw InputError(path + ": write failed (disk full?)");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw InputError(path + ": cannot rename temporary file into place");
  }
}

void require_writable(const std::string& path, const std::string& flag) {
  const fs::path p(path);
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  std::error_code ec;
  require(fs::is_directory(dir, ec),
          flag + " " + path + ": folder " + dir.string() + " does not exist (create it first)");
  require(::access(dir.c_str(), W_OK) == 0,
          flag + " " + path + ": folder " + dir.string() + " is not writable");
  require(!fs::is_directory(p, ec), flag + " " + path + ": is a folder, not a file name");
}

namespace {

// A SAX pass that only looks for duplicate keys, at any depth, and remembers where the first
// one is (nlohmann's DOM parse keeps the last value silently).
class DuplicateKeyFinder : public nlohmann::json_sax<nlohmann::json> {
 public:
  std::string duplicate;  // "<JSON path>: duplicate key "k"", empty if none

  bool key(string_t& k) override {
    Frame& top = frames_.back();
    top.key = k;
    if (!top.keys.insert(k).second && duplicate.empty())
      duplicate = path() + ": duplicate key \"" + k + "\"";
    return true;
  }
  bool start_object(std::size_t) override { return push(false); }
  bool start_array(std::size_t) override { return push(true); }
  bool end_object() override { return pop(); }
  bool end_array() override { return pop(); }
  bool null() override { return value(); }
  bool boolean(bool) override { return value(); }
  bool number_integer(number_integer_t) override { return value(); }
  bool number_unsigned(number_unsigned_t) override { return value(); }
  bool number_float(number_float_t, const string_t&) override { return value(); }
  bool string(string_t&) override { return value(); }
  bool binary(binary_t&) override { return value(); }
  // Malformed text: stop here; the DOM parse that follows words the error.
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

 private:
  struct Frame {
    bool array = false;
    std::size_t index = 0;
    std::string key;
    std::set<std::string> keys;
  };
  std::vector<Frame> frames_;

  bool push(bool array) {
    frames_.push_back({array, 0, {}, {}});
    return true;
  }
  bool pop() {
    frames_.pop_back();
    return value();
  }
  bool value() {  // one element of the enclosing array is complete
    if (!frames_.empty() && frames_.back().array) ++frames_.back().index;
    return true;
  }
  // JSON path of the innermost object (the one the key is in).
  std::string path() const {
    std::string p;
    for (size_t i = 0; i + 1 < frames_.size(); ++i)
      p += frames_[i].array ? "[" + std::to_string(frames_[i].index) + "]"
                            : (p.empty() ? "" : ".") + frames_[i].key;
    return p.empty() ? "(root)" : p;
  }
};

}  // namespace

nlohmann::json parse_json(const std::string& text, const std::string& where) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {  // parse_error, and out_of_range for 1e400
    throw InputError(where + ": malformed JSON (" + e.what() + ")");
  }
  DuplicateKeyFinder finder;
  nlohmann::json::sax_parse(text, &finder);
  require(finder.duplicate.empty(), where + ": " + finder.duplicate + " (keep one)");
  return j;
}

nlohmann::json read_json_file(const std::string& path) { return parse_json(read_file(path), path); }

void write_json_file_atomic(const std::string& path, const nlohmann::json& j) {
  write_file_atomic(path, j.dump(2) + "\n");
}

}  // namespace vitnas
