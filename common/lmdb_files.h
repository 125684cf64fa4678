// Which files an LMDB environment really opened.
//
// LMDB opens DIR/data.mdb and DIR/lock.mdb by path, following symlinks, after our own
// checks of those paths (files.h). A file swapped in between (a symlink to another store,
// another regular file) would be read without having been checked. So once
// mdb_env_open has returned, and before any transaction, the descriptors LMDB holds are
// compared (device, inode) with the entries of the checked directory, and checked on the
// descriptor again (regular file, trusted owner, not writable by others).
//
// The data file's descriptor comes from mdb_env_get_fd. LMDB does not expose the lock
// file's (nor, for writers, the second descriptor of data.mdb it writes meta pages
// through), so those are found as the descriptors that appeared in /proc/self/fd across
// mdb_env_open. Without /proc (a chroot), only the data file's descriptor is checked.
//
// What this cannot prevent: a reader's open(2) of data.mdb blocks on a FIFO put there
// between our check and LMDB's open. Only someone who may write the store directory
// (root, or its owner: the check refuses a directory writable by anyone else) can do
// that. Thread-safe; other threads opening descriptors meanwhile never cause a refusal
// by themselves.
#pragma once

#include <lmdb.h>

#include <string>
#include <vector>

#include "status.h"

namespace apppass {

// The descriptors open in this process, sorted; `*known` is false (and the list empty)
// when /proc/self/fd cannot be read.
std::vector<int> OpenDescriptors(bool* known);

// REQUIRES: `before` (with `known`) was taken by OpenDescriptors just before
// mdb_env_open(env, dir, ...) succeeded; `dir_fd` is an open descriptor of the checked
// directory `dir`; `write` is true unless the environment is MDB_RDONLY.
// Unavailable, naming the file, when a descriptor of LMDB's is not the file now in the
// directory or is unsafe.
Status CheckEnvFiles(MDB_env* env, const std::string& dir, int dir_fd,
                     const std::vector<int>& before, bool known, bool write);

}  // namespace apppass
