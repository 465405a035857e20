#include "cli/limits.h"

#include <cmath>
#include <string>

#include "cli/common.h"

namespace vitnas::cli {

namespace {

std::string bounds(double lo, double hi) {
  auto text = [](double v) {
    std::string s = std::to_string(v);
    s.erase(s.find_last_not_of('0') + 1);  // 86400.000000 -> 86400.
    if (s.back() == '.') s.pop_back();
    return s;
  };
  return "[" + text(lo) + ", " + text(hi) + "]";
}

}  // namespace

CLI::Validator integer_in(int64_t lo, int64_t hi) {
  const std::string range = "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  return CLI::Validator(
      [lo, hi, range](std::string& s) -> std::string {
        size_t used = 0;
        long long v = 0;
        try {
          v = std::stoll(s, &used);
        } catch (const std::exception&) {
          return "expected an integer in " + range + ", got " + s;
        }
        if (used != s.size()) return "expected an integer in " + range + ", got " + s;
        if (v < lo || v > hi) return "must be in " + range + ", got " + s;
        return "";
      },
      range);
}

CLI::Validator number_in(double lo, double hi) {
  const std::string range = bounds(lo, hi);
  return CLI::Validator(
      [lo, hi, range](std::string& s) -> std::string {
        size_t used = 0;
        double v = 0;
        try {
          v = std::stod(s, &used);
        } catch (const std::exception&) {
          return "expected a number in " + range + ", got " + s;
        }
        if (used != s.size() || !std::isfinite(v))
          return "expected a finite number in " + range + ", got " + s;
        if (v < lo || v > hi) return "must be in " + range + ", got " + s;
        return "";
      },
      range);
}

CLI::Validator thread_count(bool zero_means_all) {
  const int cores = machine_cores();
  return CLI::Validator(
      [zero_means_all, cores](std::string& s) -> std::string {
        const std::string allowed = (zero_means_all ? "0 (all cores) or " : "") +
                                    std::string("1..") + std::to_string(cores) +
                                    " (this machine's hardware threads)";
        size_t used = 0;
        long long v = -1;
        try {
          v = std::stoll(s, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used != s.size() || v < (zero_means_all ? 0 : 1) || v > cores)
          return "must be " + allowed + ", got " + s;
        return "";
      },
      "[" + std::string(zero_means_all ? "0" : "1") + ", " + std::to_string(cores) + "]");
}

}  // namespace vitnas::cli
