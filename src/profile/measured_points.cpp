#include "profile/measured_points.h"

#include <filesystem>

#include "core/error.h"
#include "core/io.h"
#include "profile/mpc_json.h"

namespace vitnas {

using nlohmann::json;
using namespace mpc_json;

namespace {

void set_all_kinds(ArchSpec& spec, AttentionKind kind) {
  for (AttentionKind* k : head_kinds(spec)) *k = kind;
}

MeasuredPoint parse_point(const json& j, const std::string& path, const std::string& dir) {
  object(j, path, {"label", "seconds", "arch", "all_kinds"});
  MeasuredPoint p;
  p.label = as_string(required(j, path, "label"), path + ".label");
  p.seconds = positive(required(j, path, "seconds"), path + ".seconds");
  const json& arch = required(j, path, "arch");
  const std::string arch_path = path + ".arch";
  if (arch.is_string()) {
    const std::string name = arch.get<std::string>();
    const std::filesystem::path file(name);
    const bool relative = !is_preset(name) && file.is_relative();
    try {
      p.arch = load_arch(relative ? (std::filesystem::path(dir) / file).string() : name);
    } catch (const InputError& e) {
      fail(arch_path, e.what());
    }
  } else {
    try {
      p.arch = arch_from_json(arch);
    } catch (const InputError& e) {
      fail(arch_path, e.what());
    }
  }
  if (j.contains("all_kinds")) {
    const std::string kp = path + ".all_kinds";
    set_all_kinds(p.arch, as_enum(j.at("all_kinds"), kp, "attention kind", kAttentionKinds));
  }
  return p;
}

}  // namespace

Measurements load_measurements(const std::string& path) {
  return measurements_from_json(read_json_file(path), path);
}

Measurements measurements_from_json(const json& j, const std::string& path) {
  const std::string dir = std::filesystem::path(path).parent_path().string();
  try {
    object(j, "", {"source", "link", "network", "points"});
    Measurements m;
    m.path = path;
    if (j.contains("link") && j.contains("network"))
      fail("network", "the old name of \"link\": give one of them");
    if (j.contains("link")) m.link = link_from_json(j.at("link"), "link");
    if (j.contains("network")) m.link = link_from_json(j.at("network"), "network");
    const json& points = required(j, "", "points");
    if (!points.is_array() || points.empty())
      fail("points", "expected a non-empty array, got " + describe(points));
    for (size_t i = 0; i < points.size(); ++i)
      m.points.push_back(parse_point(points[i], index_path("points", i), dir));
    return m;
  } catch (const InputError& e) {
    throw InputError(path + ": " + e.what());
  }
}

}  // namespace vitnas
