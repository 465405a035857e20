// printf-style formatting into a string, for the reports the profile layer hands to the CLI
// (which prints them): the same digits as the printf() calls the CLI used to make.
#pragma once

#include <string>

namespace vitnas {

std::string printf_string(const char* format, ...) __attribute__((format(printf, 1, 2)));

}  // namespace vitnas
