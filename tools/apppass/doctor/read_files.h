// How the doctor reads the configuration files it checks, and compares directories.
// Thread-safe.
#pragma once

#include <string>

namespace apppass::doctor {

// Reads a configuration file of at most 1 MiB. False (with errno's text, or "larger than
// 1 MiB", in `err`) when it cannot.
bool ReadText(const std::string& path, std::string* out, std::string* err);
// A directory path for comparing: trailing slashes dropped, symlinks and ".." resolved
// as far as the path exists.
std::string SameDirKey(const std::string& dir);
// Whether `path` exists (following symlinks).
bool FileExists(const std::string& path);

}  // namespace apppass::doctor
