// AppDirs: the temporary layout of an in-process SASL test with applications (tests/sasl):
// a store and its admin tool, our plugin alone in a directory of its own, the stock
// plugins' directory, the applications' configs and a sasldb. Header-only.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <string>

#include "run.h"
#include "store_fixture.h"

namespace sasltest {

struct AppDirs {
  std::string dir, store, ours, stock, conf, sasldb;
  testlib::Tool tool;

  // Makes the layout in a new directory /tmp/PREFIX.XXXXXX: `ours` holds `plugin` (linked
  // as libapppass.so), `stock` is `stock_dir`, the store is not made yet. Dies on failure.
  void Make(const char* prefix, const char* plugin, const std::string& tool_path,
            const std::string& stock_dir) {
    char real[PATH_MAX];
    if (realpath(plugin, real) == nullptr) testlib::Die(std::string("no plugin at ") + plugin);
    dir = testlib::MakeTempDir(prefix);
    store = dir + "/store";
    ours = dir + "/plugins";
    stock = stock_dir;
    conf = dir + "/conf";
    sasldb = dir + "/sasldb2";
    tool = testlib::Tool{tool_path, store};
    mkdir(ours.c_str(), 0755);
    mkdir(conf.c_str(), 0755);
    // libsasl loads lib<name>.so from each directory of its path.
    if (symlink(real, (ours + "/libapppass.so").c_str()) != 0) testlib::Die("symlink failed");
  }
};

}  // namespace sasltest
