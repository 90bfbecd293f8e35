// Typed errors thrown by library code. Only main() turns them into messages and exit codes:
// UsageError and InputError exit with 2 (bad options, bad files), everything else with 1.
// InputError carries where the problem is (file, line, field) and a hint for the user.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

namespace lmforge {

// Bad command-line usage or configuration (unknown option, value out of range). Exit code 2.
class UsageError : public std::runtime_error {
 public:
  explicit UsageError(const std::string& msg) : std::runtime_error(msg) {}
};

// Bad input data. what() reads "FILE:LINE: field 'F': MESSAGE (hint: HINT)". Exit code 2.
class InputError : public std::runtime_error {
 public:
  InputError(std::string file, int64_t line, std::string field, std::string message,
             std::string hint = "");
  const std::string& file() const { return file_; }
  int64_t line() const { return line_; }  // 0 when the problem is not tied to one line
  const std::string& field() const { return field_; }
  const std::string& message() const { return message_; }
  const std::string& hint() const { return hint_; }

 private:
  std::string file_, field_, message_, hint_;
  int64_t line_;
};

// A failure while running (I/O error, non-finite loss). Exit code 1.
class RuntimeError : public std::runtime_error {
 public:
  explicit RuntimeError(const std::string& msg) : std::runtime_error(msg) {}
};

// Throws RuntimeError("[op] message") when cond is false; for internal invariants and shape checks.
void check(bool cond, const char* op, const std::string& message);

}  // namespace lmforge
