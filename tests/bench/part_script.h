// The parts pam and broker of tests/bench/run-benchmarks have a program (bench_pam,
// bench_broker) and a script (bench_pam.sh, bench_broker.sh) that makes the system users
// and calls the program. run-benchmarks calls a part's program, when the build has one,
// as `bench_PART --out FILE.json [--quick] --stores DIR`: the program then runs its script
// instead (which calls it back without --stores). Header-only.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

namespace benchpart {

// When argv has `--stores`, replaces this process with
//   bash SOURCE/tests/bench/SCRIPT --build BUILD [--nofloor-build BUILD-nofloor]
//        --out FILE [--quick]
// where BUILD is the build dir this program is in (BUILD/tests/bench/PROGRAM) and
// BUILD-nofloor its sibling (a floor-0 build, when `nofloor` and it exists). Returns
// without --stores; exits 2 when the exec fails.
inline void RunScriptIfCalledAsPart(int argc, char** argv, const char* script, bool nofloor) {
  namespace fs = std::filesystem;
  std::string out;
  bool quick = false, as_part = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--stores") == 0) as_part = true;
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    if (std::strcmp(argv[i], "--out") == 0 && i + 1 < argc) out = argv[i + 1];
  }
  if (!as_part) return;
  std::error_code ec;
  const fs::path build =
      fs::canonical("/proc/self/exe", ec).parent_path().parent_path().parent_path();
  std::vector<std::string> args = {"bash",
                                   std::string(APPPASS_BENCH_SOURCE_DIR) + "/tests/bench/" + script,
                                   "--build", build.string()};
  if (nofloor) {
    const std::string sibling = build.string() + "-nofloor";
    if (fs::exists(sibling + "/pam_module/pam_apppass.so", ec)) {
      args.push_back("--nofloor-build");
      args.push_back(sibling);
    } else {
      args.push_back("--nofloor-build");
      args.push_back("/nonexistent");  // the script leaves the floor-0 rows out
    }
  }
  args.push_back("--out");
  args.push_back(out);
  if (quick) args.push_back("--quick");
  std::vector<char*> cargs;
  for (auto& a : args) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  std::fflush(nullptr);
  execvp("bash", cargs.data());
  std::perror("exec bash");
  std::exit(2);
}

}  // namespace benchpart
