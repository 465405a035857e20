// Strict JSON reading shared by arch_spec.cpp, search_space.cpp and mpc_cost.cpp, in namespace
// vitnas::json_read: every error is an InputError "<JSON path>: <what>" ("(root)" for the root).
#pragma once

#include <cstddef>
#include <initializer_list>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace vitnas::json_read {

// ---- paths and errors ------------------------------------------------------------------

std::string key_path(const std::string& path, const std::string& key);  // "a.b", or "b" at root
std::string index_path(const std::string& path, size_t i);              // "a[3]"

// Throws InputError("<path>: <what>"), naming the root "(root)".
[[noreturn]] void fail(const std::string& path, const std::string& what);

// A short picture of a value for "expected X, got Y": scalars verbatim, containers by kind.
std::string describe(const nlohmann::json& v);

std::string join(const std::vector<std::string>& items);  // "a, b, c"

// ---- typed reads -----------------------------------------------------------------------

int as_int(const nlohmann::json& v, const std::string& path);  // an integer that fits an int
double as_number(const nlohmann::json& v, const std::string& path);
bool as_bool(const nlohmann::json& v, const std::string& path);
std::string as_string(const nlohmann::json& v, const std::string& path);
const nlohmann::json& as_array(const nlohmann::json& v, const std::string& path);
std::vector<int> as_int_list(const nlohmann::json& v, const std::string& path);

// v, checked to be an object whose keys are all in `known`. An unknown key fails with
// "unknown key (valid: a, b)", or just "unknown key" when list_valid is false.
const nlohmann::json& as_object(const nlohmann::json& v, const std::string& path,
                                std::initializer_list<const char*> known, bool list_valid = true);

// obj[key]; fails "<path>.<key>: missing" without it.
const nlohmann::json& required(const nlohmann::json& obj, const std::string& path,
                               const std::string& key);

// Looks a name up among all values of an enum (named by to_string(Enum), found by ADL); the
// error lists the valid names: `unknown <what> "x" (valid: a, b)`.
template <typename Enum, size_t N>
Enum as_enum(const nlohmann::json& v, const std::string& path, const char* what,
             const Enum (&all)[N]) {
  const std::string name = as_string(v, path);
  std::vector<std::string> valid;
  for (Enum e : all) {
    if (to_string(e) == name) return e;
    valid.push_back(to_string(e));
  }
  fail(path, "unknown " + std::string(what) + " \"" + name + "\" (valid: " + join(valid) + ")");
}

// One JSON object being read. The constructor rejects unknown keys up front (listing the valid
// ones), so no reader can forget to; the accessors hand out values together with their paths.
class Object {
 public:
  Object(const nlohmann::json& j, std::string path, std::initializer_list<const char*> allowed);

  std::string path(const std::string& key) const { return key_path(path_, key); }
  bool has(const std::string& key) const;
  const nlohmann::json& required(const std::string& key) const;

  int integer(const std::string& key) const;
  bool boolean(const std::string& key) const;
  std::string string(const std::string& key) const;
  std::vector<int> int_list(const std::string& key) const;
  bool boolean_or(const std::string& key, bool fallback) const;  // fallback when absent

 private:
  const nlohmann::json& j_;
  std::string path_;
};

}  // namespace vitnas::json_read
