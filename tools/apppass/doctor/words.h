// Words for the doctor's messages and fix lines: text from files or the system made safe
// for one line, shell quoting, modes, user and group names. Thread-safe except UserName
// and GroupName (getpwuid/getgrgid).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace apppass::doctor {

// Text from files or the system made safe for one line: LogText (common/text.h), cut at
// `max` (then "..." follows).
std::string Clean(std::string_view v, std::size_t max = 200);
// A path or word quoted for a shell command in a fix line.
std::string Sh(std::string_view s);
// Permission bits as four octal digits ("0640").
std::string Mode(mode_t m);
// The name of a user or group, else its number.
std::string UserName(uid_t uid);
std::string GroupName(gid_t gid);
std::string Join(const std::vector<std::string>& v, std::string_view sep);
// ASCII lowercase.
std::string Lower(std::string_view s);
// Without leading and trailing blanks (space, tab, CR, LF).
std::string Trim(std::string_view s);

}  // namespace apppass::doctor
