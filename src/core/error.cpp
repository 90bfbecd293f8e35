// Formatting of typed errors.
#include "lmforge/core/error.h"

namespace lmforge {
namespace {
std::string format_input_error(const std::string& file, int64_t line, const std::string& field,
                               const std::string& message, const std::string& hint) {
  std::string s = file;
  if (line > 0) s += ":" + std::to_string(line);
  s += ": ";
  if (!field.empty()) s += "field '" + field + "': ";
  s += message;
  if (!hint.empty()) s += " (hint: " + hint + ")";
  return s;
}
}  // namespace

InputError::InputError(std::string file, int64_t line, std::string field, std::string message,
                       std::string hint)
    : std::runtime_error(format_input_error(file, line, field, message, hint)),
      file_(std::move(file)),
      field_(std::move(field)),
      message_(std::move(message)),
      hint_(std::move(hint)),
      line_(line) {}

void check(bool cond, const char* op, const std::string& message) {
  if (!cond) throw RuntimeError(std::string("[") + op + "] " + message);
}

}  // namespace lmforge
