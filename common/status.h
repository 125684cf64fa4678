// Status: the result of a core operation that can fail, as a value.
//
// No exceptions cross the core's public functions for expected failures: they return a
// Status (or a StatusOr-style pair). "Not found" is an ordinary answer where an API says
// so, not an error. Messages are for people and never contain secrets.
//
// A Status may carry a fix: one line saying what to do ("chmod o-rwx PATH"), as data.
// message() is the whole text for people, rendered once by WithFixText ("WHAT; fix with:
// FIX"); summary() and fix() are its two parts, for callers that show the fix apart.
// Thread-safe: a Status is an immutable value.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

namespace apppass {

// The one rendering of a message with its fix: "WHAT; fix with: FIX" (just WHAT when
// `fix` is empty).
inline std::string WithFixText(std::string_view what, std::string_view fix) {
  std::string out(what);
  if (!fix.empty()) {
    out += "; fix with: ";
    out += fix;
  }
  return out;
}

class Status {
 public:
  enum class Code {
    kOk,
    kNotFound,          // the thing asked for does not exist
    kInvalidArgument,   // bad input from the caller (name, option, password format)
    kUnavailable,       // the store cannot be used (missing, unreadable, unsafe, corrupt)
    kPermissionDenied,  // refused by a rule (no confirmed MFA, limit reached)
    kAlreadyExists,
    kInternal,
  };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status NotFound(std::string msg, std::string fix = {}) {
    return Status(Code::kNotFound, std::move(msg), std::move(fix));
  }
  static Status InvalidArgument(std::string msg, std::string fix = {}) {
    return Status(Code::kInvalidArgument, std::move(msg), std::move(fix));
  }
  static Status Unavailable(std::string msg, std::string fix = {}) {
    return Status(Code::kUnavailable, std::move(msg), std::move(fix));
  }
  static Status PermissionDenied(std::string msg, std::string fix = {}) {
    return Status(Code::kPermissionDenied, std::move(msg), std::move(fix));
  }
  static Status AlreadyExists(std::string msg, std::string fix = {}) {
    return Status(Code::kAlreadyExists, std::move(msg), std::move(fix));
  }
  static Status Internal(std::string msg, std::string fix = {}) {
    return Status(Code::kInternal, std::move(msg), std::move(fix));
  }

  bool ok() const { return code_ == Code::kOk; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  Code code() const { return code_; }
  // The whole text: summary() and, when there is one, its fix (WithFixText).
  const std::string& message() const { return message_; }
  // The message without its fix.
  std::string_view summary() const { return std::string_view(message_).substr(0, summary_size_); }
  // What to do about it, one line; empty when the producer named none.
  const std::string& fix() const { return fix_; }

 private:
  Status(Code code, std::string msg, std::string fix)
      : code_(code),
        summary_size_(msg.size()),
        message_(WithFixText(msg, fix)),
        fix_(std::move(fix)) {}
  Code code_ = Code::kOk;
  std::size_t summary_size_ = 0;
  std::string message_;
  std::string fix_;
};

}  // namespace apppass
