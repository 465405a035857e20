// File helpers shared by every layer: atomic writes (temp file + rename) and JSON files.
#pragma once

#include <string>

#include <nlohmann/json_fwd.hpp>

namespace vitnas {

// Reads a whole file; InputError naming the path if it is missing or unreadable.
std::string read_file(const std::string& path);

// Writes to "<path>.tmp.<pid>" then renames over path, so readers never see a partial file.
void write_file_atomic(const std::string& path, const std::string& bytes);

// JSON files: parse errors become one-line InputErrors naming the file and the position.
nlohmann::json read_json_file(const std::string& path);
void write_json_file_atomic(const std::string& path, const nlohmann::json& j);

}  // namespace vitnas
