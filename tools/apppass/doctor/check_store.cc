// The store check: the store's files (present, not symlinks, owners and modes as
// documented in README "The store", one table: store_layout.h), and whether the store
// would open for verifying and for administration (store_probe.h: without opening it).
#include <errno.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "doctor/doctor.h"
#include "doctor/store_probe.h"
#include "doctor/words.h"
#include "files.h"
#include "store_layout.h"
#include "store_modes.h"

namespace apppass::doctor {

namespace {

// Plain words for permission bits: "its group can write it, everyone can read it".
std::string DescribeBits(mode_t bits, bool dir, bool granted) {
  std::vector<std::string> out;
  const char* verb = granted ? "can" : "cannot";
  auto add = [&](mode_t mask, const std::string& who, const char* what) {
    if (bits & mask) out.push_back(fmt::format("{} {} {}", who, verb, what));
  };
  const std::string grp = "its group";
  add(S_IRUSR, "its owner", dir ? "list it" : "read it");
  add(S_IWUSR, "its owner", dir ? "add files to it" : "write it");
  add(S_IXUSR, "its owner", dir ? "enter it" : "execute it");
  add(S_IRGRP, grp, dir ? "list it" : "read it");
  add(S_IWGRP, grp, dir ? "add or replace files in it" : "write it");
  add(S_IXGRP, grp, dir ? "enter it" : "execute it");
  add(S_IROTH, "everyone", dir ? "list it" : "read it");
  add(S_IWOTH, "everyone", dir ? "add or replace files in it" : "write it");
  add(S_IXOTH, "everyone", dir ? "enter it" : "execute it");
  if (bits & (S_ISUID | S_ISGID | S_ISVTX))
    out.push_back(granted ? "it has set-id or sticky bits" : "set-id or sticky bits are missing");
  return Join(out, ", ");
}

// Checks one file of the store. Returns false when it is missing or not usable at all.
bool CheckStoreFile(const Config& cfg, const StoreEntry& f, std::vector<Finding>* out) {
  const std::string path = StorePath(cfg.db, f.id);
  const std::string p = Clean(path);
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    const int e = errno;
    if (e != ENOENT) {
      out->push_back(Make("store", Level::kProblem,
                          fmt::format("cannot examine {}: {}", p, std::strerror(e)),
                          "check the permissions of the directories above it"));
      return false;
    }
    if (f.id == StoreFile::kLock) {
      out->push_back(
          Make("store", Level::kProblem,
               fmt::format("{} ({}) is missing: verifiers cannot open the store", p, f.what),
               fmt::format("run 'apppass --db {} list' as root once: opening the store for "
                           "administration recreates it (root:root 0600)",
                           Sh(cfg.db))));
    } else if (f.id == StoreFile::kUsageDir || f.id == StoreFile::kUsageData ||
               f.id == StoreFile::kUsageLock) {
      out->push_back(Make(
          "store", Level::kWarning,
          fmt::format("{} ({}) is missing: last use is not recorded (logins are not affected)", p,
                      f.what),
          "restore it from a backup of the store; apppass init creates it only in a new store"));
    } else {
      out->push_back(
          Make("store", Level::kProblem,
               fmt::format("{} ({}) is missing: the store cannot be used", p, f.what),
               "restore the store from a backup; for a new installation move the directory "
               "away and run 'apppass init'"));
    }
    return false;
  }
  if (S_ISLNK(st.st_mode)) {
    out->push_back(Make(
        "store", Level::kProblem,
        fmt::format("{} ({}) is a symbolic link; apppass refuses to follow links in the store", p,
                    f.what),
        f.directory ? fmt::format("use the real directory: apppass --db \"$(readlink -f {})\" ..., "
                                  "or replace the link with the directory it points to",
                                  Sh(path))
                    : fmt::format("replace the link with the file itself: cp --remove-destination "
                                  "\"$(readlink -f {0})\" {0} && chmod {1} {0}",
                                  Sh(path), Mode(f.mode))));
    return false;
  }
  if (f.directory ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) {
    out->push_back(Make(
        "store", Level::kProblem,
        fmt::format("{} ({}) is not a {}", p, f.what, f.directory ? "directory" : "regular file"),
        "move it away and restore the store from a backup"));
    return false;
  }
  bool clean = true;
  // The owner part of apppass's file-safety rule (files.h); the mode is compared with the
  // layout below, so the rule sees the layout's mode.
  struct stat as_laid_out = st;
  as_laid_out.st_mode = (st.st_mode & S_IFMT) | f.mode;
  const bool owner_ok = CheckStat(path, as_laid_out, f.rule).ok();
  if (!owner_ok) {
    clean = false;
    out->push_back(Make("store", Level::kProblem,
                        fmt::format("{} ({}) belongs to {}, not root: apppass refuses it", p,
                                    f.what, Clean(UserName(st.st_uid))),
                        fmt::format("chown root {}", Sh(path))));
  }
  const mode_t have = st.st_mode & 07777;
  const mode_t extra = have & ~f.mode;
  const mode_t missing = f.mode & ~have;
  if (extra != 0) {
    clean = false;
    out->push_back(Make("store", Level::kProblem,
                        fmt::format("{} ({}) has mode {}, expected {}: {}", p, f.what, Mode(have),
                                    Mode(f.mode), DescribeBits(extra, f.directory, true)),
                        fmt::format("chmod {} {}", Mode(f.mode), Sh(path))));
  } else if (missing != 0) {
    clean = false;
    out->push_back(
        Make("store", Level::kWarning,
             fmt::format("{} ({}) has mode {}, expected {}: {} (root is not affected)", p, f.what,
                         Mode(have), Mode(f.mode), DescribeBits(missing, f.directory, false)),
             fmt::format("chmod {} {}", Mode(f.mode), Sh(path))));
  }
  // The store is root's alone: its group has no access, so another group only misleads.
  if (st.st_gid != 0) {
    clean = false;
    out->push_back(Make(
        "store", Level::kWarning,
        fmt::format("{} ({}) has group {}, expected root", p, f.what, Clean(GroupName(st.st_gid))),
        fmt::format("chgrp root {}", Sh(path))));
  }
  if (clean)
    out->push_back(Make("store", Level::kOk,
                        fmt::format("{} ({}) is {}:{} {}", p, f.what, Clean(UserName(st.st_uid)),
                                    Clean(GroupName(st.st_gid)), Mode(have))));
  return true;
}

// What to do about a store that does not open: the problems above, else the core's fix.
std::string FixFor(const Status& s, bool earlier_problems) {
  if (earlier_problems) return "fix the store problems above, then run 'apppass doctor' again";
  return Clean(s.fix(), 300);
}

}  // namespace

std::vector<Finding> CheckStore(const Config& cfg) {
  std::vector<Finding> out;
  const bool root = ::geteuid() == 0;
  if (!root)
    out.push_back(
        Make("store", Level::kWarning,
             fmt::format("not running as root (uid {}): the store is root-only, so its files "
                         "could not be opened",
                         ::geteuid()),
             "run 'apppass doctor' as root"));

  struct stat dst {};
  if (::lstat(cfg.db.c_str(), &dst) != 0 && errno == ENOENT) {
    out.push_back(
        Make("store", Level::kProblem, fmt::format("store {} does not exist", Clean(cfg.db)),
             fmt::format("create it with 'apppass --db {} init' (or name the right one with --db)",
                         Sh(cfg.db))));
    return out;
  }
  for (const StoreEntry& f : kStoreLayout) {
    const bool ok = CheckStoreFile(cfg, f, &out);
    if (!ok && f.id == StoreFile::kDir) return out;  // the directory itself: nothing else to see
    if (f.id == StoreFile::kDir && !root && ::access(cfg.db.c_str(), X_OK) != 0) {
      out.push_back(Make("store", Level::kWarning,
                         fmt::format("cannot look inside {} as uid {}: its files were not checked",
                                     Clean(cfg.db), ::geteuid()),
                         "run 'apppass doctor' as root"));
      return out;
    }
  }
  // A store made by an apppass before issue 11: one admin command fixes every entry.
  std::size_t accessible = 0;
  for (const LooseEntry& e : FindLooseEntries(cfg.db))
    accessible += e.accessible() && e.tightenable;
  if (accessible != 0)
    out.push_back(
        Make("store", Level::kProblem,
             fmt::format("the store is not root's alone: its group or everyone can reach {} of its "
                         "entries (a store made by an older apppass?); a member of its group could "
                         "read the keys and take or rewrite LMDB's locks",
                         accessible),
             fmt::format("run any admin command as root to tighten it, e.g. 'apppass --db {} list'",
                         Sh(cfg.db))));
  const bool earlier = HasProblem(out);

  if (!root && dst.st_uid == 0) return out;  // cannot open a root-owned store
  // Probes, not Store::Open: the doctor changes nothing (store_probe.h).
  int schema = 0;
  const Status verify = ProbeVerify(cfg.db, &schema);
  if (verify.ok())
    out.push_back(Make("store", Level::kOk,
                       fmt::format("the store opens for verifying (schema version {}{})", schema,
                                   schema == 1 ? ", records without integrity tags: "
                                                 "the next admin command upgrades it"
                                               : "")));
  else
    out.push_back(
        Make("store", Level::kProblem,
             fmt::format("the store does not open for verifying: {}", Clean(verify.summary(), 300)),
             FixFor(verify, earlier)));
  struct stat lst {};
  if (::lstat(StorePath(cfg.db, StoreFile::kLock).c_str(), &lst) == 0) {
    // An admin open would also recreate a missing lock.mdb; the doctor only reads.
    const Status admin = verify.ok() ? ProbeAdminKey(cfg.db) : verify;
    if (admin.ok())
      out.push_back(
          Make("store", Level::kOk, "the store opens for administration (mfa.key is readable)"));
    else
      out.push_back(Make("store", Level::kProblem,
                         fmt::format("the store does not open for administration: {}",
                                     Clean(admin.summary(), 300)),
                         FixFor(admin, earlier)));
  }
  struct stat ust {};
  if (::lstat(StorePath(cfg.db, StoreFile::kUsageDir).c_str(), &ust) == 0) {
    const Status usage = ProbeUsage(cfg.db);
    if (!usage.ok())
      out.push_back(
          Make("store", Level::kWarning,
               fmt::format("the last-use database does not open: {} (logins are not affected)",
                           Clean(usage.summary(), 300)),
               FixFor(usage, earlier)));
  }
  return out;
}

}  // namespace apppass::doctor
