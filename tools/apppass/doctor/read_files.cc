#include "doctor/read_files.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace apppass::doctor {

namespace fs = std::filesystem;

bool ReadText(const std::string& path, std::string* out, std::string* err) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *err = std::strerror(errno);
    return false;
  }
  std::string text;
  char buf[8192];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<std::size_t>(in.gcount()));
    if (text.size() > (1u << 20)) {
      *err = "larger than 1 MiB";
      return false;
    }
  }
  *out = std::move(text);
  return true;
}

std::string SameDirKey(const std::string& dir) {
  std::error_code ec;
  fs::path p = fs::weakly_canonical(fs::path(dir), ec);
  std::string s = ec ? fs::path(dir).lexically_normal().string() : p.string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

bool FileExists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace apppass::doctor
