// Errors the library raises. The CLI maps them to exit codes once, in main:
// InputError -> 2 (the user must fix a file, flag or architecture), anything else -> 1.
#pragma once

#include <stdexcept>
#include <string>

namespace vitnas {

// Bad input: a malformed or impossible ArchSpec, a corrupt weights file, a wrong flag.
// The message is one line and names what to fix (a JSON path, a tensor key, a file).
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws InputError(message) unless cond holds. Library code uses this instead of exit().
inline void require(bool cond, const std::string& message) {
  if (!cond) throw InputError(message);
}

}  // namespace vitnas
