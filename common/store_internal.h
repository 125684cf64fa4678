// StoreAccess: the LMDB environment and table handles of a Store, for tests and tools
// that read or damage a store below the Store API on purpose (tests/unit, tests/timing,
// tests/stress, tests/fuzz, tests/bench). Never used by the product's own code, which
// goes through Store::Begin (store.h).
#pragma once

#include "store.h"

namespace apppass::internal {

struct StoreAccess {
  static const LmdbEnv& env(const Store& s) { return s.env_; }
  static const StoreDbs& dbs(const Store& s) { return s.dbs_; }
};

}  // namespace apppass::internal
