// The sasl check: libapppass.so in libsasl2's plugin directory, owned and writable by root
// only, and ranked by libsasl2 ahead of the stock PLAIN and LOGIN. libsasl2 is asked in a
// forked child, so the plugins it loads never run in the doctor itself.
#include <dlfcn.h>
#include <fmt/format.h>
#include <sasl/sasl.h>
#include <sasl/saslplug.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <sstream>

#include "child.h"
#include "doctor/doctor.h"
#include "doctor/words.h"

namespace apppass::doctor {

namespace {

constexpr const char* kPluginFile = "libapppass.so";
// The store the probe names to the plugin: one that cannot exist (below a device), so the
// plugin registers PLAIN and LOGIN in its failed state without opening a real store,
// which would take a reader slot in its lock.mdb (the doctor changes nothing). The
// plugin registers its mechanisms whether or not the store opens.
constexpr const char* kProbeStore = "/dev/null/apppass-doctor-probe";
constexpr std::chrono::milliseconds kProbeTimeout{20000};
constexpr std::size_t kMaxProbeReport = std::size_t{1} << 20;

struct SaslProbe {
  std::string plugin_dir;
  std::string db;
  std::vector<std::string> log;
};

int ProbeGetPath(void* ctx, const char** path) {
  *path = static_cast<SaslProbe*>(ctx)->plugin_dir.c_str();
  return SASL_OK;
}

int ProbeGetOpt(void* ctx, const char*, const char* option, const char** result, unsigned* len) {
  const auto* p = static_cast<SaslProbe*>(ctx);
  const char* v = nullptr;
  if (std::strcmp(option, "apppass_db") == 0) v = p->db.c_str();
  if (std::strcmp(option, "mech_list") == 0) v = "PLAIN LOGIN";
  if (v == nullptr) return SASL_FAIL;
  *result = v;
  if (len != nullptr) *len = static_cast<unsigned>(std::strlen(v));
  return SASL_OK;
}

int ProbeLog(void* ctx, int level, const char* message) {
  auto* p = static_cast<SaslProbe*>(ctx);
  if (level <= SASL_LOG_WARN && message != nullptr && p->log.size() < 20)
    p->log.emplace_back(message);
  return SASL_OK;
}

template <typename F>
sasl_callback_t Callback(unsigned long id, F* f, void* ctx) {
  return sasl_callback_t{id, reinterpret_cast<int (*)(void)>(reinterpret_cast<void (*)(void)>(f)),
                         ctx};
}

void ProbeInfo(server_sasl_mechanism_t* m, sasl_info_callback_stage_t stage, void* rock) {
  if (stage != SASL_INFO_LIST_MECH || m == nullptr || m->plug == nullptr) return;
  auto* lines = static_cast<std::string*>(rock);
  *lines += fmt::format("M {} {}\n", m->plug->mech_name != nullptr ? m->plug->mech_name : "?",
                        m->plugname != nullptr ? m->plugname : "?");
}

// In a child: libsasl2 loads the plugins of `dir` for an application whose config names
// a store; returns "M MECH PLUGIN" lines in libsasl2's order and "L message" lines.
std::string ProbeSasl(const std::string& dir) {
  static SaslProbe probe;
  probe.plugin_dir = dir;
  probe.db = kProbeStore;
  static const sasl_callback_t cbs[] = {Callback(SASL_CB_GETPATH, &ProbeGetPath, &probe),
                                        Callback(SASL_CB_GETOPT, &ProbeGetOpt, &probe),
                                        Callback(SASL_CB_LOG, &ProbeLog, &probe),
                                        {SASL_CB_LIST_END, nullptr, nullptr}};
  std::string lines;
  const int rc = sasl_server_init(cbs, "apppass-doctor");
  if (rc != SASL_OK) {
    lines += fmt::format("I {}\n", sasl_errstring(rc, nullptr, nullptr));
  } else {
    sasl_server_plugin_info(nullptr, &ProbeInfo, &lines);
  }
  // Whether the file itself is a loadable server plugin (libsasl2 says so only at debug
  // level). Its constructors have run already, in this same process.
  const std::string file = dir + "/" + kPluginFile;
  if (void* h = ::dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL)) {
    if (::dlsym(h, "sasl_server_plug_init") == nullptr)
      lines += "D it does not export sasl_server_plug_init\n";
  } else {
    const char* e = ::dlerror();
    std::string one = e != nullptr ? e : "dlopen failed";
    for (char& c : one)
      if (c == '\n') c = ' ';
    lines += "D it cannot be loaded: " + one + "\n";
  }
  for (const auto& l : probe.log) {
    if (l.find(kProbeStore) != std::string::npos) continue;  // it cannot open that store
    std::string one = l;
    for (char& c : one)
      if (c == '\n') c = ' ';
    lines += "L " + one + "\n";
  }
  return lines;
}

}  // namespace

std::vector<Finding> CheckSasl(const Config& cfg, const PostfixSasl& postfix) {
  std::vector<Finding> out;
  const std::string plugin = cfg.sasl_dir + "/" + kPluginFile;
  const std::string pp = Clean(plugin);
  struct stat st {};
  if (::stat(plugin.c_str(), &st) != 0) {
    if (postfix.names_store)
      out.push_back(Make(
          "sasl", Level::kProblem,
          fmt::format("{} is not installed, but Postfix's SASL config names the store: the stock "
                      "PLAIN and LOGIN ignore apppass_db and do not accept app passwords",
                      pp),
          "install libsasl2-modules-apppass (or copy libapppass.so into libsasl2's plugin "
          "directory), then postfix reload"));
    else
      out.push_back(Make(
          "sasl", Level::kOk,
          fmt::format("the SASL plugin is not installed ({} does not exist); nothing configured "
                      "here needs it",
                      pp)));
    return out;
  }
  // libsasl2 loads it into root processes: it must be root's, writable by nobody else.
  for (const std::string& path : {plugin, cfg.sasl_dir}) {
    struct stat s {};
    if (::stat(path.c_str(), &s) != 0) continue;
    if (s.st_uid != 0 || (s.st_mode & (S_IWGRP | S_IWOTH)) != 0)
      out.push_back(
          Make("sasl", Level::kProblem,
               fmt::format("{} is {}:{} {}: whoever can write it runs code in every SASL server "
                           "(as root in Postfix's smtpd)",
                           Clean(path), Clean(UserName(s.st_uid)), Clean(GroupName(s.st_gid)),
                           Mode(s.st_mode)),
               fmt::format("chown root {0} && chmod go-w {0}", Sh(path))));
  }
  const std::string db = !postfix.store.empty() ? postfix.store : cfg.db;
  const ChildResult child =
      RunInChild([&] { return ProbeSasl(cfg.sasl_dir); }, kProbeTimeout, kMaxProbeReport);
  const std::string* probe = &child.report;
  if (!child.ok()) {
    out.push_back(
        Make("sasl", Level::kProblem,
             fmt::format("libsasl2 could not load the plugins of {}: {}", Clean(cfg.sasl_dir),
                         Clean(child.Describe())),
             "check the plugin with 'saslpluginviewer -s'; reinstall libsasl2-modules-apppass"));
    return out;
  }
  std::vector<std::pair<std::string, std::string>> mechs;  // (mech, plugin) in libsasl2's order
  std::vector<std::string> logs;
  std::string init_error, load_error;
  std::stringstream ss(*probe);
  std::string line;
  while (std::getline(ss, line)) {
    if (line.rfind("M ", 0) == 0) {
      std::stringstream ls(line.substr(2));
      std::string m, p;
      ls >> m >> p;
      mechs.emplace_back(m, p);
    } else if (line.rfind("L ", 0) == 0) {
      logs.push_back(line.substr(2));
    } else if (line.rfind("I ", 0) == 0) {
      init_error = line.substr(2);
    } else if (line.rfind("D ", 0) == 0) {
      load_error = line.substr(2);
    }
  }
  auto log_hint = [&]() -> std::string {
    if (!load_error.empty()) return ": " + Clean(load_error, 300);
    for (const auto& l : logs)
      if (l.find("apppass") != std::string::npos || l.find(kPluginFile) != std::string::npos)
        return "; libsasl2 said: " + Clean(l, 300);
    return logs.empty() ? "" : "; libsasl2 said: " + Clean(logs.front(), 300);
  };
  if (!init_error.empty()) {
    out.push_back(Make("sasl", Level::kProblem,
                       fmt::format("libsasl2 failed to start with the plugins of {}: {}{}",
                                   Clean(cfg.sasl_dir), Clean(init_error), log_hint()),
                       "check the plugin with 'saslpluginviewer -s'"));
    return out;
  }
  bool all_ok = true;
  std::vector<std::string> order_text;
  std::vector<std::string> unregistered;
  for (const char* mech : {"PLAIN", "LOGIN"}) {
    std::vector<std::string> order;
    for (const auto& [m, p] : mechs)
      if (m == mech) order.push_back(p);
    order_text.push_back(
        fmt::format("{}: {}", mech, order.empty() ? "none" : Clean(Join(order, ", "))));
    const auto ours = std::find(order.begin(), order.end(), "apppass");
    if (ours == order.end()) {
      all_ok = false;
      unregistered.push_back(mech);
    } else if (ours != order.begin()) {
      all_ok = false;
      out.push_back(Make(
          "sasl", Level::kProblem,
          fmt::format("libsasl2 ranks the {} of plugin {} ahead of libapppass.so's: Postfix uses "
                      "that one, which does not accept app passwords",
                      mech, Clean(order.front())),
          fmt::format("remove or update the plugin that provides {} as {} in {}, or update "
                      "libsasl2-modules-apppass",
                      mech, Clean(order.front()), Clean(cfg.sasl_dir))));
    }
  }
  if (!unregistered.empty())
    out.push_back(
        Make("sasl", Level::kProblem,
             fmt::format("{} did not register {} for an application that names the store {}{}", pp,
                         Join(unregistered, " and "), Clean(db), log_hint()),
             "check the plugin with 'saslpluginviewer -s' and reinstall libsasl2-modules-apppass"));
  if (all_ok)
    out.push_back(Make(
        "sasl", Level::kOk,
        fmt::format("{} outranks the stock PLAIN and LOGIN (libsasl2 uses the first of each name; "
                    "{})",
                    pp, Join(order_text, "; "))));
  return out;
}

}  // namespace apppass::doctor
