// The owners and modes of an existing store against its layout (store_layout.h): what a
// store made by an apppass before issue 11 (group-accessible: root:apppass 0750/0640/0660)
// still has, and tightening it to the layout. Store::Open in kAdmin mode tightens (as
// root); 'apppass check' and 'apppass doctor' report. Thread-safe (no shared state).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "status.h"
#include "store_layout.h"

namespace apppass {

// One entry of a store whose mode or group differs from the layout.
struct LooseEntry {
  StoreFile file;
  std::string path;
  gid_t gid;    // as found
  mode_t mode;  // permission bits as found
  // Whether its group or everyone has some access to it (the layout gives none).
  bool accessible() const { return (mode & 077) != 0; }
  // Whether the apppass before issue 11 accepted this mode (no writes by everyone; no
  // group write but to the lock and usage files; keys not readable by everyone, mfa.key
  // by its owner only), so that tightening it keeps trusting what was trusted. Any other
  // mode is refused as unsafe (files.h), and left to a person: its contents may have
  // been changed by anyone.
  bool tightenable = false;
};

// The entries of the store in `dir` that are root's, of the layout's type, and have
// another mode or a group other than root. Missing entries, symbolic links, other types
// and other owners are not listed: opening the store refuses those (files.h), and
// tightening never touches them. Only reads (never follows a symbolic link).
std::vector<LooseEntry> FindLooseEntries(const std::string& dir);

// "DIR/key: 0640 root:apppass -> 0600 root:root", for people (group names from NSS).
std::string DescribeTightening(const LooseEntry& e);

// REQUIRES: euid 0. Gives every tightenable loose entry the layout's mode and group root, each
// reached from its parent's descriptor with O_PATH | O_NOFOLLOW (never a symbolic link;
// O_PATH descriptors leave LMDB's locks of this process alone; the chmod goes through
// /proc/self/fd, and only without /proc through a descriptor opened, checked to be the
// same file, and closed, which would drop this process's locks on a loose lock.mdb it
// has open), and appends
// DescribeTightening of each changed entry to `*changes`. Unavailable when a change fails
// (the entries before it stay changed: each is a tightening on its own).
Status TightenStore(const std::string& dir, std::vector<std::string>* changes);

}  // namespace apppass
