// apppass doctor: check a deployment (store, who can read it, PAM stacks, Postfix's SASL
// config, the SASL plugin's ranking, apppassd's socket) and say what is wrong and how to
// fix it. The checks are in doctor.h; this file only declares the options and prints the
// findings.
#include "cli.h"
#include "doctor/doctor.h"

namespace apppass::cli {

namespace {

struct DoctorArgs {
  doctor::Config cfg = doctor::DefaultConfig();
  bool json = false;
};

int Doctor(const Context& ctx, DoctorArgs& a) {
  a.cfg.db = StoreDir(ctx);
  const std::vector<doctor::Finding> findings = doctor::RunAll(a.cfg);
  return PrintReport(a.json ? doctor::FormatJson(findings) : doctor::FormatText(findings),
                     doctor::HasProblem(findings) ? kExitProblems : kExitOk);
}

}  // namespace

void AddDoctorCommand(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand(
      "doctor",
      "Check the deployment and say what is wrong and how to fix it: the store's files, owners\n"
      "and modes; whether the dovecot and postfix users can read it; which PAM services stack\n"
      "pam_apppass.so and how; Postfix's SASL config; whether the SASL plugin outranks the\n"
      "stock PLAIN and LOGIN; whether apppassd answers on --socket; when apppass-web is\n"
      "installed, its portal user, PAM service and configuration file. Only reads. Run it as\n"
      "root.\n"
      "Prints one finding a line (ok:, warning:, problem:, each problem or warning followed by\n"
      "an indented 'fix:' line). Exit status 0 when there is no problem (warnings allowed),\n"
      "8 when there is at least one.");
  auto a = std::make_shared<DoctorArgs>();
  cmd->add_option("--group", a->cfg.group, "Group of the services that verify")
      ->capture_default_str();
  cmd->add_option("--pam-dir", a->cfg.pam_dir, "PAM service directory to read")
      ->capture_default_str();
  cmd->add_option("--postfix-dir", a->cfg.postfix_dir, "Postfix configuration directory")
      ->capture_default_str();
  cmd->add_option("--sasl-dir", a->cfg.sasl_dir, "libsasl2's plugin directory")
      ->capture_default_str();
  cmd->add_option(
      "--doveconf", a->cfg.doveconf,
      "doveconf program to ask which user Dovecot's auth worker runs as (default: from PATH)");
  cmd->add_option("--web-conf", a->cfg.web_conf, "apppass-web's configuration file")
      ->capture_default_str();
  cmd->add_option("--systemd-dir", a->cfg.systemd_dirs,
                  "Where systemd units are read from (apppassd.service, apppass-web.service),\n"
                  "in order of precedence; repeat for several (default: /etc, /run, /lib and\n"
                  "/usr/lib systemd/system)");
  auto* socket = cmd->add_option("--socket", a->cfg.socket,
                                 "apppassd's socket to check (default: the global --socket)");
  cmd->add_flag("--json", a->json,
                "Print [{\"check\",\"status\",\"message\",\"fix\"}] (fix null when none)");
  cmd->callback([&ctx, a, socket] {
    // One socket option for the whole tool: doctor's own only overrides the global one.
    if (socket->count() == 0) a->cfg.socket = ctx.socket;
    ctx.run = [&ctx, a] { return Doctor(ctx, *a); };
  });
}

}  // namespace apppass::cli
