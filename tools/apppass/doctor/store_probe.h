// Whether a store would open for verifying and for administration, and whether its
// last-use database opens, found without changing a byte of it.
//
// A Store opened by the doctor itself would change the store: an admin open takes a
// write transaction, frees stale reader slots and upgrades a schema 1 store, and any
// LMDB open takes a reader slot in lock.mdb. The probes instead check the files a Store
// opens with the same owners (the layout of store_layout.h, the file-safety rule of
// files.h), read the keys with the key loader (ReadKey/LoadKey of store.h), and read
// the LMDB environments in a forked child opened MDB_RDONLY | MDB_NOLOCK, which takes no
// reader slot. They open lock.mdb for writing, as LMDB does, and close it unwritten.
// Never open anything for writing otherwise, never create or change a file.
// Not thread-safe (forks).
#pragma once

#include <string>
#include <vector>

#include "status.h"

namespace apppass::doctor {

// Ok when Store::Open(db, kVerify) would succeed (as this process's user): the
// directory, data.mdb, lock.mdb (readable and writable) and the key are safe and
// readable, and data.mdb holds an apppass store of a known schema (then in `*schema`).
// Else Unavailable (or Internal when the child could not run), with the fix as
// Status::fix() when the core names one.
Status ProbeVerify(const std::string& db, int* schema);

// Ok when mfa.key loads as Store::Open(db, kAdmin) loads it (owner-only); the rest of an
// admin open is ProbeVerify's.
Status ProbeAdminKey(const std::string& db);

// Ok when the last-use database (DIR/usage) opens for reading as UsageDb::Open does.
Status ProbeUsage(const std::string& db);

// The user names of the store's enrollment records (the keys of its users table), read
// like the probes above (a child, no reader slot). Names that are not valid user names
// are left out; at most 100000.
Status ProbeUserNames(const std::string& db, std::vector<std::string>* names);

}  // namespace apppass::doctor
