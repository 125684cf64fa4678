// Unit tests of tools/apppass/doctor/pam_stack.h: PAM service-file parsing, control
// actions, include expansion, the walk after a refusal and pam_succeed_if guards.

#include "doctor/pam_stack.h"

#include <map>
#include <string>
#include <vector>

// cmocka.h needs these first, has no extern "C" of its own, and defines macros with
// common names: include it last.
#include <csetjmp>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
extern "C" {
#include <cmocka.h>
}

namespace apppass::doctor {
namespace {

void ExpectStr(const std::string& got, const char* want, const char* what) {
  if (got != want) fail_msg("%s: got '%s', expected '%s'", what, got.c_str(), want);
}

void test_parse_basic(void**) {
  const auto e = ParsePamFile(
      "# a comment\n"
      "\n"
      "auth    required   pam_unix.so nullok   # trailing comment\n"
      "AUTH Sufficient /lib/security/pam_apppass.so db=/var/lib/apppass scope=imap\n"
      "-auth optional pam_gnome_keyring.so\n"
      "@include common-auth\n"
      "account include common-account\n"
      "session required\n"              // too few tokens: skipped
      "frobnicate required pam_x.so\n"  // not a type: skipped
      "password required pam_unix.so\n",
      "imap");
  assert_int_equal(e.size(), 6);
  ExpectStr(e[0].file, "imap", "file");
  assert_int_equal(e[0].line, 3);
  ExpectStr(e[0].type, "auth", "type");
  ExpectStr(e[0].control, "required", "control");
  ExpectStr(e[0].module, "pam_unix.so", "module");
  assert_int_equal(e[0].args.size(), 1);
  ExpectStr(e[0].args[0], "nullok", "arg");
  // Type and a plain control are lowercased; the module and its arguments are not.
  ExpectStr(e[1].type, "auth", "type lowercased");
  ExpectStr(e[1].control, "sufficient", "control lowercased");
  ExpectStr(e[1].module, "/lib/security/pam_apppass.so", "module path");
  assert_int_equal(e[1].args.size(), 2);
  ExpectStr(e[1].args[1], "scope=imap", "second arg");
  assert_true(e[2].dash);
  ExpectStr(e[2].type, "auth", "dash type");
  assert_true(e[3].include);
  ExpectStr(e[3].module, "common-auth", "included file");
  assert_int_equal(e[3].line, 6);
  ExpectStr(e[4].control, "include", "include control");
  ExpectStr(e[5].type, "password", "password type");
  assert_int_equal(e[5].line, 10);
}

void test_parse_brackets_and_continuations(void**) {
  const auto e = ParsePamFile(
      "auth [success=done new_authtok_reqd=done \\\n"
      "      default=ignore] pam_apppass.so [arg with spaces] plain\n"
      "auth [default=die x=\\]y] pam_deny.so\n",
      "svc");
  assert_int_equal(e.size(), 2);
  // A continued line counts from its first line; the bracketed control keeps its case
  // and spelling.
  assert_int_equal(e[0].line, 1);
  ExpectStr(e[0].module, "pam_apppass.so", "module after a continued control");
  assert_true(e[0].control.front() == '[' && e[0].control.back() == ']');
  assert_true(e[0].control.find("default=ignore") != std::string::npos);
  assert_int_equal(e[0].args.size(), 2);
  ExpectStr(e[0].args[0], "arg with spaces", "bracketed argument unwrapped");
  ExpectStr(e[0].args[1], "plain", "plain argument");
  // "\]" inside brackets is a literal "]".
  ExpectStr(e[1].control, "[default=die x=]y]", "escaped bracket");
  assert_int_equal(e[1].line, 3);
  // A file without a trailing newline, and a last line ending in a backslash.
  const auto last = ParsePamFile("auth required pam_unix.so \\", "f");
  assert_int_equal(last.size(), 1);
  assert_true(ParsePamFile("", "f").empty());
  assert_true(ParsePamFile("@include\n", "f").empty());
}

void test_control_action(void**) {
  ExpectStr(ControlAction("required", "success"), "ok", "required success");
  ExpectStr(ControlAction("required", "auth_err"), "bad", "required failure");
  ExpectStr(ControlAction("requisite", "success"), "ok", "requisite success");
  ExpectStr(ControlAction("requisite", "auth_err"), "die", "requisite failure");
  // PAM_IGNORE is ignored by both (libpam's ignore=ignore); new_authtok_reqd is ok.
  ExpectStr(ControlAction("required", "ignore"), "ignore", "required ignore");
  ExpectStr(ControlAction("requisite", "ignore"), "ignore", "requisite ignore");
  ExpectStr(ControlAction("required", "new_authtok_reqd"), "ok", "required new_authtok_reqd");
  ExpectStr(ControlAction("sufficient", "ignore"), "ignore", "sufficient ignore");
  ExpectStr(ControlAction("[success=done default=die]", "ignore"), "die", "bracket ignore");
  ExpectStr(ControlAction("sufficient", "success"), "done", "sufficient success");
  ExpectStr(ControlAction("sufficient", "new_authtok_reqd"), "done", "sufficient new_authtok_reqd");
  ExpectStr(ControlAction("sufficient", "auth_err"), "ignore", "sufficient failure");
  ExpectStr(ControlAction("optional", "success"), "ok", "optional success");
  ExpectStr(ControlAction("optional", "auth_err"), "ignore", "optional failure");
  ExpectStr(ControlAction("include", "success"), "ignore", "not a control");
  ExpectStr(ControlAction("", "success"), "ignore", "empty control");
  const char* c = "[success=done new_authtok_reqd=done default=ignore]";
  ExpectStr(ControlAction(c, "success"), "done", "bracket: named value");
  ExpectStr(ControlAction(c, "auth_err"), "ignore", "bracket: default");
  ExpectStr(ControlAction("[success=1 default=ignore]", "success"), "1", "bracket: jump");
  // libpam: a value neither named nor covered by default= is "bad".
  ExpectStr(ControlAction("[success=ok]", "auth_err"), "bad", "bracket: no default");
  ExpectStr(ControlAction("[SUCCESS=OK Default=Die]", "success"), "ok", "bracket: case");
  ExpectStr(ControlAction("[SUCCESS=OK Default=Die]", "user_unknown"), "die",
            "bracket: default case");
  ExpectStr(ControlAction("[]", "success"), "bad", "empty brackets");
}

void test_jump_and_basename(void**) {
  std::size_t n = 0;
  assert_true(IsJump("3", &n));
  assert_int_equal(n, 3);
  assert_false(IsJump("", &n));
  assert_false(IsJump("ok", &n));
  assert_false(IsJump("-1", &n));
  assert_false(IsJump("1a", &n));
  ExpectStr(Basename("/lib/x86_64-linux-gnu/security/pam_unix.so"), "pam_unix.so", "path");
  ExpectStr(Basename("pam_unix.so"), "pam_unix.so", "bare");
  assert_true(IsNoOp("pam_env.so"));
  assert_false(IsNoOp("pam_unix.so"));
  assert_true(GrantsWithoutPassword("pam_permit.so"));
  assert_true(GrantsWithoutPassword("pam_cap.so"));
  assert_false(GrantsWithoutPassword("pam_unix.so"));
  assert_false(GrantsWithoutPassword("pam_deny.so"));
}

void test_expand_auth(void**) {
  const std::map<std::string, std::string> files = {
      {"imap",
       "auth required pam_env.so\n@include common-auth\naccount required pam_unix.so\n"
       "auth substack extra\nauth include /etc/elsewhere\n"},
      {"common-auth",
       "auth [success=1 default=ignore] pam_unix.so\nauth requisite pam_deny.so\n"
       "session required pam_limits.so\n"},
      {"extra", "auth optional pam_cap.so\n@include loop\n"},
      {"loop", "auth required pam_faildelay.so\n@include extra\n"},
  };
  int loads = 0;
  const PamLoader load = [&](const std::string& name) {
    ++loads;
    const auto it = files.find(name);
    return it == files.end() ? std::vector<PamEntry>{} : ParsePamFile(it->second, name);
  };
  const auto stack = ExpandAuth("imap", load);
  // imap's pam_env, common-auth's two auth lines, then extra's pam_cap and loop's
  // pam_faildelay; loop's include of extra is a cycle and "/etc/elsewhere" has a slash.
  assert_int_equal(stack.size(), 5);
  ExpectStr(stack[0].module, "pam_env.so", "own line");
  ExpectStr(stack[1].module, "pam_unix.so", "included line");
  ExpectStr(stack[1].file, "common-auth", "included line keeps its file");
  ExpectStr(stack[2].module, "pam_deny.so", "included line 2");
  ExpectStr(stack[3].module, "pam_cap.so", "substack");
  ExpectStr(stack[4].module, "pam_faildelay.so", "nested include");
  assert_true(loads > 0);
  assert_true(ExpandAuth("missing", load).empty());
  // A chain deeper than 8 includes stops.
  const PamLoader deep = [](const std::string& name) {
    const int n = std::stoi(name.substr(1));
    return ParsePamFile("auth required pam_unix.so\n@include f" + std::to_string(n + 1) + "\n",
                        name);
  };
  assert_int_equal(ExpandAuth("f0", deep).size(), 9);
}

std::vector<PamEntry> Stack(const char* text) { return ParsePamFile(text, "svc"); }

void test_walk_after_refusal(void**) {
  {
    const auto s = Stack("auth sufficient pam_apppass.so\nauth required pam_permit.so\n");
    const WalkResult w = WalkAfterRefusal(s, 1);
    assert_true(w.result == Walk::kGrants);
    ExpectStr(w.by->module, "pam_permit.so", "grants");
  }
  {
    const auto s = Stack(
        "auth sufficient pam_apppass.so\nauth required pam_env.so\nauth [success=1 default=ignore] "
        "pam_unix.so\nauth requisite pam_deny.so\nauth required pam_permit.so\n");
    const WalkResult w = WalkAfterRefusal(s, 1);
    assert_true(w.result == Walk::kSafe);
    ExpectStr(w.first->module, "pam_unix.so", "first that checks");
    ExpectStr(w.by->module, "pam_deny.so", "stops");
  }
  {
    // A jump over the only check lands on a module that grants.
    const auto s = Stack(
        "auth [success=1 default=ignore] pam_succeed_if.so\nauth required pam_unix.so\n"
        "auth sufficient pam_permit.so\n");
    const WalkResult w = WalkAfterRefusal(s, 0);
    assert_true(w.result == Walk::kGrants);
    ExpectStr(w.by->module, "pam_permit.so", "after the jump");
  }
  {
    const auto s = Stack("auth sufficient pam_apppass.so\nauth optional pam_unix.so\n");
    const WalkResult w = WalkAfterRefusal(s, 1);
    assert_true(w.result == Walk::kEnd);
    ExpectStr(w.first->module, "pam_unix.so", "reached, decides nothing");
    assert_null(w.by);
  }
  {
    // "ok" from a module that grants counts when nothing after it refuses.
    const auto s = Stack("auth optional pam_cap.so\nauth optional pam_unix.so\n");
    const WalkResult w = WalkAfterRefusal(s, 0);
    assert_true(w.result == Walk::kGrants);
    ExpectStr(w.by->module, "pam_cap.so", "tentative grant");
  }
  assert_true(WalkAfterRefusal(Stack(""), 0).result == Walk::kEnd);
}

void test_guarded_services(void**) {
  const auto s = Stack(
      "auth [success=ignore default=1] pam_succeed_if.so quiet service in dovecot:imap::smtp\n"
      "auth [success=done default=ignore] pam_apppass.so\n"
      "auth required pam_unix.so\n");
  const auto g = GuardedServices(s, 1);
  assert_true(g.has_value());
  assert_int_equal(g->size(), 3);
  if ((*g)[0] != "dovecot" || (*g)[1] != "imap" || (*g)[2] != "smtp") fail_msg("wrong services");
  assert_false(GuardedServices(s, 0).has_value());  // nothing before it
  assert_false(GuardedServices(s, 2).has_value());  // not a guard
  // A guard whose failure does not skip the module guards nothing.
  const auto weak =
      Stack("auth required pam_succeed_if.so service in imap\nauth required pam_apppass.so\n");
  assert_false(GuardedServices(weak, 1).has_value());
  // Without "service in".
  const auto other = Stack(
      "auth [success=ignore default=1] pam_succeed_if.so uid >= 1000\n"
      "auth required pam_apppass.so\n");
  assert_false(GuardedServices(other, 1).has_value());
}

}  // namespace
}  // namespace apppass::doctor

int main() {
  using namespace apppass::doctor;
  const CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_basic),
      cmocka_unit_test(test_parse_brackets_and_continuations),
      cmocka_unit_test(test_control_action),
      cmocka_unit_test(test_jump_and_basename),
      cmocka_unit_test(test_expand_auth),
      cmocka_unit_test(test_walk_after_refusal),
      cmocka_unit_test(test_guarded_services),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
