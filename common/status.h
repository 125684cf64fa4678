// Status: the result of a core operation that can fail, as a value.
//
// No exceptions cross the core's public functions for expected failures: they return a
// Status (or a StatusOr-style pair). "Not found" is an ordinary answer where an API says
// so, not an error. Messages are for people and never contain secrets.
// Thread-safe: a Status is an immutable value.
#pragma once

#include <string>
#include <utility>

namespace apppass {

class Status {
 public:
  enum class Code {
    kOk,
    kNotFound,         // the thing asked for does not exist
    kInvalidArgument,  // bad input from the caller (name, option, password format)
    kUnavailable,      // the store cannot be used (missing, unreadable, unsafe, corrupt)
    kPermissionDenied, // refused by a rule (no confirmed MFA, limit reached)
    kAlreadyExists,
    kInternal,
  };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status NotFound(std::string msg) { return Status(Code::kNotFound, std::move(msg)); }
  static Status InvalidArgument(std::string msg) { return Status(Code::kInvalidArgument, std::move(msg)); }
  static Status Unavailable(std::string msg) { return Status(Code::kUnavailable, std::move(msg)); }
  static Status PermissionDenied(std::string msg) { return Status(Code::kPermissionDenied, std::move(msg)); }
  static Status AlreadyExists(std::string msg) { return Status(Code::kAlreadyExists, std::move(msg)); }
  static Status Internal(std::string msg) { return Status(Code::kInternal, std::move(msg)); }

  bool ok() const { return code_ == Code::kOk; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

}  // namespace apppass
