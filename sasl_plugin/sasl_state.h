// The plugin's state: one Plugin per plug_init, shared by its PLAIN and LOGIN entries and
// by every connection of the process.
//
// Locking. The options are fixed at plug_init and read without a lock. What a login needs
// of the process (the open store and usage database, or why the plugin fails closed) is
// a ProcessState, immutable once published and handed out as a shared_ptr snapshot. The
// mutex guards only the pointer to the current one: Current() holds it for a getpid()
// and a pointer copy, and, in a process forked after plug_init, for the reopen. Verify,
// its time floor and the last-use write run outside the mutex, on the snapshot, so
// connections do not wait for each other's decisions; a snapshot keeps its store open
// until its last user lets go, so a reopen in one thread never frees the store another
// thread verifies with. Verify on a kVerify Store and UsageDb::Record are safe from many
// threads at once (store.h, usage.h).
#pragma once

#include <sasl/sasl.h>
#include <sasl/saslplug.h>
#include <sys/types.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "sasl_options.h"
#include "status.h"
#include "store.h"
#include "usage.h"

namespace apppass::sasl {

// The store and usage database as one process opened them, or that the process asks
// apppassd instead, or why the plugin refuses every login.
//
// Where logins are verified is decided when the state is made (at plug_init, and again in
// a process forked after it): a process running as root (Postfix's smtpd at plug_init,
// before it drops privileges) opens the store and keeps it; any other process cannot
// (the store is root-only) and asks apppassd on apppass_broker at every login.
struct ProcessState {
  pid_t pid = 0;  // the process that opened the store
  // Logins are verified by apppassd (opts.broker), not with `store`.
  bool via_broker = false;
  // SASL_OK when usable; failing closed: SASL_FAIL (bad option) or SASL_UNAVAIL (store).
  int fail_code = SASL_FAIL;
  std::string fail_reason;  // "bad-option" or "unavailable"
  std::string fail_detail;
  Store store;
  UsageDb usage;
  bool usage_open = false;
};

class StoreState {
 public:
  // At plug_init: publishes the failed state of a bad option (`options` not ok), or opens
  // the store and usage database for this process (as root), or the broker state (not
  // root). Logs what failed through `utils`.
  void Init(const SaslOptions& opts, const Status& options, const sasl_utils_t* utils);

  // The state for this process, never null. In a process forked after Init, reopens the
  // store first (LMDB environments do not survive fork()), or fails closed if it cannot;
  // a child that is not root asks the broker instead.
  std::shared_ptr<const ProcessState> Current(const SaslOptions& opts, const sasl_utils_t* utils);

 private:
  std::mutex mu_;
  bool options_ok_ = false;                      // set by Init, before any sharing
  std::shared_ptr<const ProcessState> current_;  // guarded by mu_
};

// One plug_init's state.
struct Plugin {
  // libsasl keeps pointers to these entries until it calls mech_free for each of them.
  sasl_server_plug_t plugs[2] = {};
  std::atomic<int> refs{2};
  SaslOptions opts;  // fixed at plug_init
  StoreState state;
};

}  // namespace apppass::sasl
