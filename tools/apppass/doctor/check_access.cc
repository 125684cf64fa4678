// The access check: the store is root-only, so no other user may open it: the user
// Dovecot's auth worker runs as (when not root) and the dovecot and postfix users are
// checked by the permission bits and, as root, by trying as that user in a forked child.
// A worker that is not root verifies through the broker (apppassd), which answers members
// of the group (--group) only: its membership is checked too.
#include <fcntl.h>
#include <fmt/format.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>
#include <sstream>

#include "child.h"
#include "doctor/doctor.h"
#include "doctor/process.h"
#include "doctor/words.h"
#include "store_layout.h"

namespace apppass::doctor {

namespace {

namespace fs = std::filesystem;

constexpr std::chrono::milliseconds kTrialTimeout{20000};

}  // namespace

bool Permits(const Identity& who, const struct stat& st, int want) {
  if (who.uid == 0) return true;
  unsigned bits;
  if (who.uid == st.st_uid) {
    bits = (st.st_mode >> 6) & 7u;
  } else if (who.gid == st.st_gid ||
             std::find(who.groups.begin(), who.groups.end(), st.st_gid) != who.groups.end()) {
    bits = (st.st_mode >> 3) & 7u;
  } else {
    bits = st.st_mode & 7u;
  }
  unsigned need = 0;
  if (want & R_OK) need |= 4;
  if (want & W_OK) need |= 2;
  if (want & X_OK) need |= 1;
  return (bits & need) == need;
}

namespace {

std::optional<Identity> LookupUser(const std::string& name) {
  const passwd* pw = ::getpwnam(name.c_str());
  if (pw == nullptr) return std::nullopt;
  Identity id;
  id.name = pw->pw_name;
  id.uid = pw->pw_uid;
  id.gid = pw->pw_gid;
  int n = 64;
  std::vector<gid_t> groups(static_cast<std::size_t>(n));
  if (::getgrouplist(pw->pw_name, pw->pw_gid, groups.data(), &n) < 0) {
    groups.resize(static_cast<std::size_t>(n));
    if (::getgrouplist(pw->pw_name, pw->pw_gid, groups.data(), &n) < 0) n = 0;
  }
  groups.resize(static_cast<std::size_t>(std::max(n, 0)));
  id.groups = std::move(groups);
  return id;
}

// The first path that keeps `who` from doing what a verifier does, with what is missing.
struct Block {
  std::string path;
  std::string need;  // "enter", "read", "read and write", "list"
  struct stat st {};
};

std::optional<Block> FirstBlock(const Identity& who, const std::string& db) {
  std::vector<std::pair<std::string, int>> needs;
  // Every directory above the store must be searchable.
  const fs::path abs = fs::absolute(fs::path(db)).lexically_normal();
  fs::path cur;
  std::vector<fs::path> parents;
  for (const auto& part : abs.parent_path()) {
    cur /= part;
    parents.push_back(cur);
  }
  for (const auto& d : parents) needs.emplace_back(d.string(), X_OK);
  needs.emplace_back(db, R_OK | X_OK);  // opened O_RDONLY|O_DIRECTORY, then entered
  needs.emplace_back(StorePath(db, StoreFile::kKey), R_OK);
  needs.emplace_back(StorePath(db, StoreFile::kData), R_OK);
  needs.emplace_back(StorePath(db, StoreFile::kLock), R_OK | W_OK);
  for (const auto& [path, want] : needs) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) continue;  // missing files are the store check's
    if (Permits(who, st, want)) continue;
    Block b;
    b.path = path;
    b.st = st;
    b.need = want == X_OK            ? "enter"
             : want == (R_OK | X_OK) ? "list and enter"
             : want == R_OK          ? "read"
                                     : "read and write";
    return b;
  }
  return std::nullopt;
}

// Tries, as `who` in a child process (root only), to open each entry of the store
// read-only (never following a symbolic link, never blocking on a FIFO): Ok with the
// first it could open in `*opened`; Unavailable with why it could open none (the first
// entry's error); Internal when the trial did not run. Nothing changes.
Status TryOpenAs(const Identity& who, const std::string& db, std::string* opened) {
  const ChildResult r = RunInChild(
      [&who, &db]() -> std::string {
        if (::setgroups(who.groups.size(), who.groups.data()) != 0 || ::setgid(who.gid) != 0 ||
            ::setuid(who.uid) != 0 || ::getuid() != who.uid || ::geteuid() != who.uid)
          return fmt::format("E cannot become user {}: {}", who.name, std::strerror(errno));
        std::string first_error;
        for (const StoreEntry& e : kStoreLayout) {
          const std::string path = StorePath(db, e.id);
          const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
                                                  O_CLOEXEC | (e.directory ? O_DIRECTORY : 0));
          if (fd >= 0) {
            ::close(fd);
            return "O " + path;
          }
          if (first_error.empty())
            first_error = fmt::format("cannot open {}: {}", path, std::strerror(errno));
        }
        return "E " + first_error;
      },
      kTrialTimeout);
  if (!r.ok())
    return Status::Internal(
        fmt::format("the trial as {} did not finish: {}", who.name, r.Describe()));
  if (r.report.rfind("O ", 0) == 0) {
    *opened = r.report.substr(2);
    return Status::Ok();
  }
  return Status::Unavailable(r.report.size() > 2 ? r.report.substr(2) : "unknown error");
}

// Dovecot's auth worker: the user it runs as ("" or "root": root) and its extra groups.
struct DovecotWorker {
  bool installed = false;
  bool asked = false;  // doveconf answered
  std::string user;    // "" when root
  std::vector<std::string> extra_groups;
  std::string trouble;  // why doveconf could not be asked
};

std::string DoveconfValue(const std::string& doveconf, const std::string& key, bool* ok) {
  ProgramResult r = RunProgram({doveconf, "-h", key});
  if (!r.ran || r.status != 0) {
    *ok = false;
    return r.ran ? fmt::format("exit status {}", r.status) : r.why;
  }
  std::string v = Trim(r.out);
  if (v.size() > 1 && v[0] == '$') {  // e.g. $default_internal_user
    r = RunProgram({doveconf, "-h", v.substr(1)});
    if (!r.ran || r.status != 0) {
      *ok = false;
      return "cannot expand " + v;
    }
    v = Trim(r.out);
  }
  *ok = true;
  return v;
}

DovecotWorker AskDovecot(const Config& cfg) {
  DovecotWorker w;
  const std::string doveconf = cfg.doveconf.empty() ? FindProgram("doveconf") : cfg.doveconf;
  if (doveconf.empty() || ::access(doveconf.c_str(), X_OK) != 0) return w;
  w.installed = true;
  bool ok = false;
  std::string user = DoveconfValue(doveconf, "service/auth-worker/user", &ok);
  if (!ok) {
    w.trouble = fmt::format("'{} -h service/auth-worker/user' failed: {}", doveconf, user);
    return w;
  }
  w.asked = true;
  w.user = user == "root" ? "" : user;
  std::string extra = DoveconfValue(doveconf, "service/auth-worker/extra_groups", &ok);
  if (ok) {
    for (char& c : extra)
      if (c == ',') c = ' ';
    std::stringstream ss(extra);
    std::string g;
    while (ss >> g) w.extra_groups.push_back(g);
  }
  return w;
}

}  // namespace

std::vector<Finding> CheckAccess(const Config& cfg) {
  std::vector<Finding> out;
  struct stat st {};
  if (::lstat(cfg.db.c_str(), &st) != 0) return out;  // the store check said so
  const bool root = ::geteuid() == 0;
  const DovecotWorker worker = AskDovecot(cfg);
  if (!worker.trouble.empty())
    out.push_back(
        Make("access", Level::kWarning,
             fmt::format("cannot ask Dovecot which user its auth worker runs as: {}; assuming root "
                         "(Dovecot's default)",
                         Clean(worker.trouble)),
             "check that 'doveconf -n' works"));

  struct Candidate {
    std::string name;
    bool needed;
    std::string role;        // for messages
    std::string not_needed;  // why it needs no access
  };
  std::vector<Candidate> candidates;
  if (!worker.user.empty())
    candidates.push_back({worker.user, true, "the user Dovecot's auth worker runs as", ""});
  if (worker.user != "dovecot")
    candidates.push_back({"dovecot", false, "",
                          worker.installed ? "Dovecot's auth worker runs PAM as root (service "
                                             "auth-worker { user } is root or unset), "
                                             "so the dovecot user itself needs no access"
                                           : "Dovecot is not installed here (no doveconf)"});
  candidates.push_back(
      {"postfix", false, "",
       "Postfix's smtpd starts the SASL plugin as root, which opens the store before "
       "smtpd drops to user postfix, so postfix itself needs no access"});

  for (const Candidate& c : candidates) {
    std::optional<Identity> who = LookupUser(c.name);
    if (!who) {
      if (c.needed)
        out.push_back(
            Make("access", Level::kProblem,
                 fmt::format("Dovecot's auth worker runs as user {}, which does not exist",
                             Clean(c.name)),
                 "fix 'service auth-worker { user }' in Dovecot's configuration"));
      continue;  // dovecot or postfix not installed: nothing to say
    }
    if (c.needed) {
      for (const auto& g : worker.extra_groups)
        if (const group* gr = ::getgrnam(g.c_str())) who->groups.push_back(gr->gr_gid);
    }
    const std::optional<Block> block = FirstBlock(*who, cfg.db);
    std::optional<Status> trial;
    std::string opened;
    if (root) trial = TryOpenAs(*who, cfg.db, &opened);
    const bool tried = trial && trial->code() != Status::Code::kInternal;
    const bool can = tried ? trial->ok() : !block;
    const std::string how =
        tried ? fmt::format("tried as {}", Clean(c.name)) : "by the permission bits";
    const std::string who_text = c.needed ? fmt::format("user {} ({})", Clean(c.name), c.role)
                                          : fmt::format("user {}", Clean(c.name));
    if (can) {
      out.push_back(
          Make("access", Level::kProblem,
               fmt::format("{} can open the store ({}{}): it must be root's alone, or that user "
                           "can read the keys and take or rewrite LMDB's locks",
                           who_text, how, opened.empty() ? "" : ": " + Clean(opened)),
               fmt::format("run any admin command as root to tighten the store, e.g. 'apppass --db "
                           "{} list'",
                           Sh(cfg.db))));
    } else {
      out.push_back(
          Make("access", Level::kOk,
               fmt::format("{} cannot open the store ({}), as it should: {}", who_text, how,
                           c.needed ? "it verifies through the broker, apppassd" : c.not_needed)));
    }
    if (!c.needed) continue;
    // The broker answers VERIFY from members of the group only (docs/design.md).
    const group* gr = ::getgrnam(cfg.group.c_str());
    const bool member = gr != nullptr &&
                        (who->gid == gr->gr_gid || std::find(who->groups.begin(), who->groups.end(),
                                                             gr->gr_gid) != who->groups.end());
    if (member)
      out.push_back(Make("access", Level::kOk,
                         fmt::format("{} is in group {}, so apppassd answers its verifications",
                                     who_text, Clean(cfg.group))));
    else
      out.push_back(Make(
          "access", Level::kProblem,
          fmt::format("{} is not in group {}{}: apppassd refuses its verifications, so every "
                      "login through Dovecot fails",
                      who_text, Clean(cfg.group), gr == nullptr ? " (no such group)" : ""),
          gr == nullptr
              ? fmt::format("groupadd --system {0} && adduser {1} {0}, then restart "
                            "Dovecot",
                            Sh(cfg.group), Sh(c.name))
              : fmt::format("adduser {} {}, then restart Dovecot", Sh(c.name), Sh(cfg.group))));
  }
  return out;
}

}  // namespace apppass::doctor
