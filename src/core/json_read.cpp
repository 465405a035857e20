// Strict JSON reading (see json_read.h): strict types, unknown keys rejected, every error message
// starts with the JSON path of the offending value.
#include "core/json_read.h"

#include <algorithm>
#include <climits>
#include <cstdint>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace vitnas::json_read {

using nlohmann::json;

std::string key_path(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

std::string index_path(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

void fail(const std::string& path, const std::string& what) {
  // The root has no path of its own; name it so the message still starts with something.
  throw InputError((path.empty() ? "(root)" : path) + ": " + what);
}

std::string describe(const json& v) {
  if (v.is_object()) return "an object";
  if (v.is_array()) return "an array";
  return v.dump();
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

int as_int(const json& v, const std::string& path) {
  if (!v.is_number_integer()) fail(path, "expected an integer, got " + describe(v));
  // nlohmann stores non-negative integers as unsigned, negative ones as signed.
  const bool fits = v.is_number_unsigned()
                        ? v.get<uint64_t>() <= uint64_t{INT_MAX}
                        : v.get<int64_t>() >= INT_MIN && v.get<int64_t>() <= INT_MAX;
  if (!fits) fail(path, "integer out of range, got " + v.dump());
  return v.get<int>();
}

double as_number(const json& v, const std::string& path) {
  if (!v.is_number()) fail(path, "expected a number, got " + describe(v));
  return v.get<double>();
}

bool as_bool(const json& v, const std::string& path) {
  if (!v.is_boolean()) fail(path, "expected true or false, got " + describe(v));
  return v.get<bool>();
}

std::string as_string(const json& v, const std::string& path) {
  if (!v.is_string()) fail(path, "expected a string, got " + describe(v));
  return v.get<std::string>();
}

const json& as_array(const json& v, const std::string& path) {
  if (!v.is_array()) fail(path, "expected an array, got " + describe(v));
  return v;
}

std::vector<int> as_int_list(const json& v, const std::string& path) {
  std::vector<int> out;
  const json& arr = as_array(v, path);
  for (size_t i = 0; i < arr.size(); ++i) out.push_back(as_int(arr[i], index_path(path, i)));
  return out;
}

const json& as_object(const json& v, const std::string& path,
                      std::initializer_list<const char*> known, bool list_valid) {
  if (!v.is_object()) fail(path, "expected an object, got " + describe(v));
  const std::vector<std::string> valid(known.begin(), known.end());
  for (const auto& item : v.items()) {
    if (std::find(valid.begin(), valid.end(), item.key()) != valid.end()) continue;
    fail(key_path(path, item.key()),
         list_valid ? "unknown key (valid: " + join(valid) + ")" : "unknown key");
  }
  return v;
}

const json& required(const json& obj, const std::string& path, const std::string& key) {
  if (!obj.contains(key)) fail(key_path(path, key), "missing");
  return obj.at(key);
}

// ---- Object ----------------------------------------------------------------------------

Object::Object(const json& j, std::string path, std::initializer_list<const char*> allowed)
    : j_(as_object(j, path, allowed)), path_(std::move(path)) {}

bool Object::has(const std::string& key) const { return j_.contains(key); }

const json& Object::required(const std::string& key) const {
  return json_read::required(j_, path_, key);
}

int Object::integer(const std::string& key) const { return as_int(required(key), path(key)); }

bool Object::boolean(const std::string& key) const { return as_bool(required(key), path(key)); }

std::string Object::string(const std::string& key) const {
  return as_string(required(key), path(key));
}

std::vector<int> Object::int_list(const std::string& key) const {
  return as_int_list(required(key), path(key));
}

bool Object::boolean_or(const std::string& key, bool fallback) const {
  return has(key) ? as_bool(j_.at(key), path(key)) : fallback;
}

}  // namespace vitnas::json_read
