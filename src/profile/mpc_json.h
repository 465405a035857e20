// Strict reads of the MPC files' values (cost tables, links, calibrations, measured points), on
// top of core/json_read.h: errors are InputErrors that start with the JSON path.
#pragma once

#include <initializer_list>
#include <string>

#include <nlohmann/json.hpp>

#include "core/json_read.h"

namespace vitnas::mpc_json {

using namespace json_read;

// v, checked to be an object with only `known` keys; these files' errors do not list them.
const nlohmann::json& object(const nlohmann::json& v, const std::string& path,
                             std::initializer_list<const char*> known);

// Finite numbers up to kMaxValue: rounds, bytes per element, Mbit/s, ms and seconds are all far
// below it, and the bound keeps every product the cost model forms finite (no "inf s").
inline constexpr double kMaxValue = 1e9;
double non_negative(const nlohmann::json& v, const std::string& path);
double positive(const nlohmann::json& v, const std::string& path);

// Whole numbers are written as integers, so hand-edited files stay readable.
nlohmann::json number(double x);

}  // namespace vitnas::mpc_json
