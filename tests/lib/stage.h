// Staging what a test loads as another user (uid 65534) where that user can reach it.
//
// The build tree need not be reachable by other users (a clone in /root, which is 0700
// on Debian), and a copied plugin still names the build tree in its RUNPATH, so a test
// that drops privileges first copies the plugin and its private libraries (what the
// dynamic linker resolves outside the system's library directories, e.g.
// libapppass-shared.so) into its own temporary directory, and finds those libraries
// through LD_LIBRARY_PATH (searched before RUNPATH). LoadedPath then tells which copy the
// process really loaded, so a plugin that did not load cannot go unnoticed.
// Header-only; not thread-safe (tests are single-threaded where they use it).
#pragma once

#include <dlfcn.h>
#include <link.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

namespace testlib {

// The private libraries `file` needs: each path ldd resolves that is not under /lib*,
// /usr or /opt. Empty with *error set when ldd cannot be run or fails.
inline std::vector<std::string> PrivateLibraries(const std::string& file, std::string* error) {
  std::vector<std::string> libs;
  // Without LD_PRELOAD: what the test preloads into itself is not the file's dependency.
  const std::string cmd = "env -u LD_PRELOAD ldd '" + file + "' 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) {
    *error = "cannot run ldd";
    return {};
  }
  std::string out;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  if (pclose(p) != 0) {
    *error = "ldd " + file + " failed: " + out;
    return {};
  }
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string name, arrow, path;
    if (!(words >> name >> arrow >> path) || arrow != "=>") continue;
    if (path == "not") {
      *error = file + " needs " + name + ", which is not found";
      return {};
    }
    const bool system =
        path.starts_with("/lib") || path.starts_with("/usr/") || path.starts_with("/opt/");
    if (system) continue;
    libs.push_back(path);
  }
  return libs;
}

// Copies `file` to `dest` (mode `mode`) and its private libraries into `lib_dir` (mode
// 0755, created if missing). Returns "" or why it could not.
inline std::string StageWithLibraries(const std::string& file, const std::string& dest,
                                      const std::string& lib_dir, std::filesystem::perms mode) {
  namespace fs = std::filesystem;
  std::string error;
  const std::vector<std::string> libs = PrivateLibraries(file, &error);
  if (!error.empty()) return error;
  std::error_code ec;
  fs::create_directories(lib_dir, ec);
  fs::permissions(lib_dir, fs::perms(0755), ec);
  if (ec) return "cannot create " + lib_dir + ": " + ec.message();
  auto copy = [&](const std::string& from, const std::string& to, fs::perms m) {
    fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
    if (!ec) fs::permissions(to, m, ec);
    return ec ? "cannot copy " + from + " to " + to + ": " + ec.message() : std::string();
  };
  if (std::string why = copy(file, dest, mode); !why.empty()) return why;
  for (const std::string& lib : libs) {
    const std::string to = lib_dir + "/" + fs::path(lib).filename().string();
    if (std::string why = copy(lib, to, fs::perms(0644)); !why.empty()) return why;
  }
  return "";
}

// Prepends `dir` to LD_LIBRARY_PATH: read by the dynamic linker when a program starts, so
// it takes effect for programs started after this (this one re-executed included).
inline void PrependLibraryPath(const std::string& dir) {
  const char* old = std::getenv("LD_LIBRARY_PATH");
  const std::string value = old != nullptr && *old != '\0' ? dir + ":" + old : dir;
  setenv("LD_LIBRARY_PATH", value.c_str(), 1);
}

// The path of the loaded object whose file name is `name` ("libapppass.so"), or "" when
// none is loaded in this process.
inline std::string LoadedPath(const std::string& name) {
  struct Want {
    std::string name, path;
  } want{name, ""};
  dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* data) {
        auto* w = static_cast<Want*>(data);
        const std::string path = info->dlpi_name != nullptr ? info->dlpi_name : "";
        if (std::filesystem::path(path).filename() == w->name) {
          w->path = path;
          return 1;
        }
        return 0;
      },
      &want);
  return want.path;
}

// The file holding the object at `address` (e.g. a plugin's mechanism table), or "".
inline std::string FileOf(const void* address) {
  Dl_info info{};
  if (dladdr(address, &info) == 0 || info.dli_fname == nullptr) return "";
  return info.dli_fname;
}

}  // namespace testlib
