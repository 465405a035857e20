// File helpers shared by every layer: atomic writes (temp file + rename) and JSON files.
#pragma once

#include <string>

#include <nlohmann/json_fwd.hpp>

namespace vitnas {

// Reads a whole file; InputError naming the path if it is missing or unreadable, not a regular
// file, or over 1 GiB (JSON, CSV and the like; tensors are streamed by safetensors.h).
std::string read_file(const std::string& path);

// Writes to "<path>.tmp.<pid>" then renames over path, so readers never see a partial file.
// Temporaries of the same path left by a killed process (whose pid no longer runs) are removed
// first, so a job resumed after kill -9 leaves no stray files.
void write_file_atomic(const std::string& path, const std::string& bytes);

// Checks, before a long job starts, that `path` can be written later: its folder exists and is
// writable, and path itself is not a folder. InputError naming `flag` and the path otherwise.
void require_writable(const std::string& path, const std::string& flag);

// JSON files: parse errors (numbers out of range such as 1e400 included) and duplicate keys at
// any depth become one-line InputErrors naming the file and the position or key.
nlohmann::json read_json_file(const std::string& path);
// The same rules for JSON text from elsewhere; errors start with `where` (a file name). Linear
// in the text's size (nlohmann's parse callback, the obvious way to see keys, is quadratic).
nlohmann::json parse_json(const std::string& text, const std::string& where);
void write_json_file_atomic(const std::string& path, const nlohmann::json& j);

}  // namespace vitnas
