// apppass doctor: checks a deployment and says in plain words what is wrong and how to
// fix it. Each check returns findings (findings.h: ok, warning or problem, with a
// one-line fix); `apppass doctor` (cmd_doctor.cc) prints them. One file per check
// (check_*.cc); the config parsers they use are pam_stack.h, sasl_conf.h and
// postfix_conf.h.
//
//   store   the store's files: present, not symlinks, owners and modes as documented
//           (README "The store"; store_layout.h), and whether the store would open for
//           verifying and administration (store_probe.h)
//   access  whether the dovecot and postfix users (and the user Dovecot's auth worker runs
//           as) can open the store: by the permission rules and, as root, by trying as
//           that user in a forked child
//   pam     every service file in the PAM directory that stacks pam_apppass.so: control,
//           options, what happens after a refusal (anyone in; an enrolled user's real
//           password reaching pam_unix), the TOTP step (skippable, before the password),
//           interactive services, account=nss where the store's users are system accounts
//   postfix Postfix's Cyrus SASL config (DIR/sasl/<smtpd_sasl_path>.conf) and main.cf;
//           apppass_account: nss where the store's users are system accounts, and where
//           it is set whether smtpd can reach apppassd (the socket inside a chroot, user
//           postfix in the group)
//   sasl    libapppass.so in libsasl2's plugin directory, and whether libsasl2 ranks it
//           ahead of the stock PLAIN and LOGIN (asked of libsasl2 in a forked child)
//   broker  apppassd's socket: a socket owned by root, in a directory only root may
//           change, that users may connect to, and the daemon answers (POLICY_SHOW)
//   web     when apppass-web is installed: the portal user apppassd trusts (not root, no
//           verifier, the unit's user), the PAM service apppass-web (needs a password),
//           web.conf (web_conf.h)
//
// The checks only read: they never change the store or any configuration. The store is
// never opened as a Store (an admin open writes; any LMDB reader writes lock.mdb): the
// probes of store_probe.h check its files and keys and read it without a reader slot;
// the SASL plugin is loaded naming a store that cannot exist. Messages hold
// paths, names and modes, never a secret. Not thread-safe (forks children).
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>
#include <string>
#include <vector>

#include "broker_client.h"
#include "doctor/findings.h"
#include "doctor/pam_stack.h"

namespace apppass::doctor {

struct Config {
  std::string db;                 // the store directory
  std::string group = "apppass";  // the verifiers' group
  std::string pam_dir = "/etc/pam.d";
  std::string postfix_dir = "/etc/postfix";
  std::string sasl_dir;  // libsasl2's plugin directory
  // Where a bare "pam_apppass.so" is looked for (libpam's module directories).
  std::vector<std::string> pam_module_dirs;
  // doveconf to ask which user Dovecot's auth worker runs as; empty: found on PATH.
  std::string doveconf;
  // apppassd's socket (doctor --socket).
  std::string socket = broker::kDefaultSocket;
  // apppass-web: its program, its configuration file (doctor --web-conf), and where
  // systemd units are read from, in order of precedence (doctor --systemd-dir).
  std::string web_binary = "/usr/sbin/apppass-web";
  std::string web_conf = "/etc/apppass/web.conf";
  std::vector<std::string> systemd_dirs = {"/etc/systemd/system", "/run/systemd/system",
                                           "/lib/systemd/system", "/usr/lib/systemd/system"};
};

// The defaults of this build: sasl_dir and pam_module_dirs filled in.
Config DefaultConfig();

// What Postfix's SASL config asks of the plugin (found by CheckPostfix, used by
// CheckSasl).
struct PostfixSasl {
  bool installed = false;
  bool names_store = false;  // some Cyrus SASL config of Postfix sets apppass_db
  std::string store;         // the first apppass_db found (as written)
};

std::vector<Finding> CheckStore(const Config& cfg);
std::vector<Finding> CheckAccess(const Config& cfg);
std::vector<Finding> CheckPam(const Config& cfg);
std::vector<Finding> CheckPostfix(const Config& cfg, PostfixSasl* out);
std::vector<Finding> CheckSasl(const Config& cfg, const PostfixSasl& postfix);
std::vector<Finding> CheckBroker(const Config& cfg);
std::vector<Finding> CheckWeb(const Config& cfg);
// All of the above, in that order.
std::vector<Finding> RunAll(const Config& cfg);

// ---------------------------------------------------------------------------------------
// Pure pieces, exposed for tests.

// Who a process is, for the permission rules.
struct Identity {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups (getgrouplist)
};

// Whether `who` may access a file of `st` with `want` (a mask of R_OK, W_OK, X_OK) by the
// classic permission bits: owner class, else group class (primary or supplementary),
// else others. Root may do anything.
bool Permits(const Identity& who, const struct stat& st, int want);

// The users of the store (its enrollment records, read by ProbeUserNames) that NSS knows
// as people's system accounts (pam_rules.h LoginAccounts); empty when the store cannot be
// read (as a user other than root).
std::vector<std::string> StoreLoginAccounts(const Config& cfg);

}  // namespace apppass::doctor
