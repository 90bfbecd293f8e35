// Strict reading of numbers in request JSON, for both servers. nlohmann's get<int>() converts
// silently: 5.7 becomes 5, 2^40+1 becomes 1, 4294967295 becomes -1. These accept a number only
// when it has the value asked for: an integer (5 or 5.0) inside a range, or a finite number
// inside a range. Not here: the error each server answers (its own JSON shape).
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>

namespace lmforge {

// The integer value of v when it is an integral number in [lo, hi].
inline std::optional<int64_t> json_integer(const nlohmann::json& v, int64_t lo, int64_t hi) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (hi < 0 || u > static_cast<uint64_t>(hi)) return std::nullopt;
    const auto i = static_cast<int64_t>(u);
    if (i < lo) return std::nullopt;
    return i;
  }
  if (v.is_number_integer()) {
    const int64_t i = v.get<int64_t>();
    if (i < lo || i > hi) return std::nullopt;
    return i;
  }
  if (v.is_number_float()) {
    const double d = v.get<double>();
    // 2^63 is the first double outside int64; the bounds are checked as doubles first.
    if (!std::isfinite(d) || d != std::floor(d) || d < -9.2233720368547758e18 ||
        d >= 9.2233720368547758e18)
      return std::nullopt;
    const auto i = static_cast<int64_t>(d);
    if (i < lo || i > hi) return std::nullopt;
    return i;
  }
  return std::nullopt;
}

// The value of v when it is a finite number in [lo, hi].
inline std::optional<double> json_real(const nlohmann::json& v, double lo, double hi) {
  if (!v.is_number()) return std::nullopt;
  const double d = v.get<double>();
  if (!std::isfinite(d) || d < lo || d > hi) return std::nullopt;
  return d;
}

}  // namespace lmforge
