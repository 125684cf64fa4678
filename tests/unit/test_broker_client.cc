// Tests of broker::Call (broker_client.h) against tests/lib/fake_broker.py, a deliberately
// broken or scripted daemon on a socket in a temporary directory: no daemon and a stale
// socket are "not running"; a daemon that hangs (before or after its version line) is
// "no answer" right at the deadline and never past 2 s for a verification; garbage, a
// wrong id, a line after the final reply, FAIL 0, another major version and an overlong
// line are malformed or refused; a FAIL reply is a transport success; ITEMs are collected;
// a secret in a reply comes back in a SecretBuffer; the request reaches the daemon whole.

#include "broker_client.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "fake_broker.h"

// Last: cmocka.h macros break standard headers included after it.
#include "test_util.h"

namespace apppass::broker {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Fixture {
  std::string dir;
  std::string socket;
  testlib::FakeBroker broker;
};

int Setup(void** state) {
  auto* f = new Fixture;
  char tmpl[] = "/tmp/apppass-broker-client-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return -1;
  f->dir = tmpl;
  f->socket = f->dir + "/apppassd.sock";
  *state = f;
  return 0;
}

int Teardown(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  f->broker.Stop();
  std::error_code ec;
  std::filesystem::remove_all(f->dir, ec);
  delete f;
  return 0;
}

// Starts the fake broker in `mode` with reply `lines` and waits for its socket.
void StartBroker(Fixture* f, const std::string& mode, const std::vector<std::string>& lines = {}) {
  const std::string why = f->broker.Start(f->socket, mode, lines);
  if (!why.empty()) fail_msg("%s", why.c_str());
}

Request Verify(std::uint64_t id = 7) {
  Request r;
  r.kind = RequestKind::kVerify;
  r.id = id;
  ASSERT_OK(r.fields.Add("user", "alice"));
  ASSERT_OK(r.fields.Add("password", "abcd-efgh-jkmn-pqrs-tuvw"));
  ASSERT_OK(r.fields.Add("service", "imap"));
  return r;
}

// Calls with `timeout`; returns the status and sets *elapsed.
Status TimedCall(const Fixture* f, std::chrono::milliseconds timeout, CallResult* out,
                 std::chrono::milliseconds* elapsed) {
  const auto start = Clock::now();
  Status s = Call(f->socket, Verify(), timeout, out);
  *elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  return s;
}

void ExpectUnavailable(const Status& s, const char* text) {
  if (s.code() != Status::Code::kUnavailable || s.message().find(text) == std::string::npos)
    fail_msg("expected Unavailable with \"%s\", got %s: %s", text, test::CodeName(s.code()),
             s.message().c_str());
}

void test_no_socket(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  CallResult out;
  std::chrono::milliseconds elapsed;
  const Status s = TimedCall(f, kVerifyTimeout, &out, &elapsed);
  ExpectUnavailable(s, "the apppass service is not running (connect ");
  ExpectUnavailable(s, f->socket.c_str());
  ExpectUnavailable(s, "No such file or directory");
  assert_true(elapsed < 500ms);
}

void test_stale_socket(void** state) {
  // A socket file nobody listens on (a daemon that died): ECONNREFUSED.
  auto* f = static_cast<Fixture*>(*state);
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", f->socket.c_str());
  assert_int_equal(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  close(fd);
  CallResult out;
  ExpectUnavailable(Call(f->socket, Verify(), kVerifyTimeout, &out),
                    "the apppass service is not running");
  ExpectUnavailable(Call(f->socket, Verify(), kVerifyTimeout, &out), "Connection refused");
}

void test_not_a_socket(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  std::ofstream(f->socket) << "x";
  CallResult out;
  const Status s = Call(f->socket, Verify(), kVerifyTimeout, &out);
  assert_int_equal(static_cast<int>(s.code()), static_cast<int>(Status::Code::kUnavailable));
  assert_non_null(std::strstr(s.message().c_str(), f->socket.c_str()));
}

void test_hang_times_out_at_deadline(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  StartBroker(f, "hang");
  CallResult out;
  std::chrono::milliseconds elapsed;
  const Status s = TimedCall(f, 300ms, &out, &elapsed);
  ExpectUnavailable(s, "no answer from the apppass service within 0.3 s");
  if (elapsed < 300ms || elapsed > 1000ms)
    fail_msg("timed out after %lld ms, wanted 300 ms", static_cast<long long>(elapsed.count()));
}

void test_verify_deadline_under_two_seconds(void** state) {
  // The bound: a verifier fails closed within 2 s, whatever the daemon does.
  auto* f = static_cast<Fixture*>(*state);
  StartBroker(f, "version-hang");
  CallResult out;
  std::chrono::milliseconds elapsed;
  const Status s = TimedCall(f, kVerifyTimeout, &out, &elapsed);
  ExpectUnavailable(s, "no answer from the apppass service within 1.5 s");
  if (elapsed < kVerifyTimeout || elapsed >= 2s)
    fail_msg("gave up after %lld ms", static_cast<long long>(elapsed.count()));
}

void test_slow_answer_is_too_late(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  StartBroker(f, "slow");
  CallResult out;
  std::chrono::milliseconds elapsed;
  ExpectUnavailable(TimedCall(f, 400ms, &out, &elapsed), "no answer");
  assert_true(elapsed < 1500ms);
}

void test_close_at_once(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  StartBroker(f, "close");
  CallResult out;
  std::chrono::milliseconds elapsed;
  const Status s = TimedCall(f, kVerifyTimeout, &out, &elapsed);
  // Either the send or the read sees the close; never SIGPIPE (this process would die).
  ExpectUnavailable(s, "apppass service");
  assert_true(elapsed < 1000ms);
}

void test_garbage(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  StartBroker(f, "garbage");
  CallResult out;
  std::chrono::milliseconds elapsed;
  ExpectUnavailable(TimedCall(f, kVerifyTimeout, &out, &elapsed),
                    "malformed reply from the apppass service");
  assert_true(elapsed < 1000ms);
}

void test_other_major_version(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  StartBroker(f, "raw", {"VERSION\t2\t0"});
  CallResult out;
  ExpectUnavailable(Call(f->socket, Verify(), kVerifyTimeout, &out), "protocol version 2");
}

void test_daemon_refuses_our_version(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  StartBroker(f, "reply", {"FAIL\t0\tversion\tprotocol version 1.0 is not supported"});
  CallResult out;
  ExpectUnavailable(Call(f->socket, Verify(), kVerifyTimeout, &out),
                    "does not speak protocol version 1");
}

void test_overlong_line(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  StartBroker(f, "reply", {"OK\t{id}\tx=" + std::string(kMaxLineLength, 'a')});
  CallResult out;
  ExpectUnavailable(Call(f->socket, Verify(), kVerifyTimeout, &out), "malformed reply");
}

// Each of these answers is malformed or unexpected: the call fails closed.
void test_malformed_replies(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  const std::vector<std::vector<std::string>> answers = {
      {"OK\t{other}\toutcome=accepted"},                   // another request's id
      {"ITEM\t{other}", "OK\t{id}"},                       // an ITEM of another request
      {"OK\t{id}\toutcome=accepted", "ITEM\t{id}\tid=1"},  // ITEM after OK
      {"OK\t{id}\toutcome=accepted", "OK\t{id}"},          // two final replies
      {"FAIL\t0\tinvalid\tcould not read the id"},         // FAIL 0 (not a version FAIL)
      {"OK\t{id}\toutcome"},                               // field without '='
      {"OK\t{id}\tuser=a\tuser=b"},                        // duplicate key
      {"NOPE\t{id}"},                                      // not OK, ITEM or FAIL
      {"VERSION\t1\t0"},                                   // a second version line
      {"OK\t0{id}"},                                       // leading zero
  };
  for (std::size_t i = 0; i < answers.size(); ++i) {
    StartBroker(f, "reply", answers[i]);
    CallResult out;
    const Status s = Call(f->socket, Verify(), kVerifyTimeout, &out);
    if (s.code() != Status::Code::kUnavailable ||
        s.message().find("malformed reply from the apppass service") == std::string::npos)
      fail_msg("answer %zu: expected a malformed reply, got %s: %s", i, test::CodeName(s.code()),
               s.message().c_str());
    f->broker.Stop();
  }
}

void test_ok_reply_and_request_sent(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  StartBroker(f, "reply", {"OK\t{id}\toutcome=accepted\tid=3f9a1c\tname=iPhone"});
  CallResult out;
  ASSERT_OK(Call(f->socket, Verify(), kVerifyTimeout, &out));
  assert_true(out.final.type == ReplyType::kOk);
  assert_int_equal(out.final.id, 7);
  assert_true(out.items.empty());
  assert_string_equal(out.final.fields.Get("outcome")->c_str(), "accepted");
  assert_string_equal(out.final.fields.Get("name")->c_str(), "iPhone");
  // The daemon got the request whole (its log hides the password's value).
  std::ifstream log(f->socket + ".log");
  std::stringstream text;
  text << log.rdbuf();
  assert_string_equal(text.str().c_str(), "VERIFY\t7\tuser=alice\tpassword=*\tservice=imap\n");
}

void test_fail_reply_is_transport_ok(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  StartBroker(f, "reply", {"FAIL\t{id}\tdenied\tnot allowed to verify"});
  CallResult out;
  ASSERT_OK(Call(f->socket, Verify(), kVerifyTimeout, &out));
  assert_true(out.final.type == ReplyType::kFail);
  const Status s = ReplyStatus(out.final);
  assert_true(s.code() == Status::Code::kPermissionDenied);
  assert_string_equal(s.message().c_str(), "not allowed to verify");
}

void test_items_then_ok(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  StartBroker(f, "reply",
              {"ITEM\t{id}\tid=a1\tname=one", "ITEM\t{id}\tid=b2\tname=two", "OK\t{id}\tcount=2"});
  Request r;
  r.kind = RequestKind::kList;
  r.id = 42;
  CallResult out;
  ASSERT_OK(Call(f->socket, r, kRequestTimeout, &out));
  assert_int_equal(out.items.size(), 2);
  assert_string_equal(out.items[1].fields.Get("name")->c_str(), "two");
  assert_string_equal(out.final.fields.Get("count")->c_str(), "2");
}

void test_secret_in_reply(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  StartBroker(f, "reply", {"OK\t{id}\tid=3f9a1c\tpassword=wxyz-abcd-efgh-jkmn-pqrs"});
  Request r;
  r.kind = RequestKind::kCreate;
  r.id = 3;
  ASSERT_OK(r.fields.Add("name", "laptop"));
  ASSERT_OK(r.fields.Add("code", "123456"));
  CallResult out;
  ASSERT_OK(Call(f->socket, r, kRequestTimeout, &out));
  const SecretBuffer* pw = out.final.fields.GetSecret("password");
  assert_non_null(pw);
  assert_true(pw->view() == "wxyz-abcd-efgh-jkmn-pqrs");
  assert_null(out.final.fields.Get("password"));
}

void test_bad_socket_path(void** state) {
  (void)state;
  CallResult out;
  ExpectUnavailable(Call(std::string(200, 'x'), Verify(), kVerifyTimeout, &out), "bad socket path");
  ExpectUnavailable(Call("", Verify(), kVerifyTimeout, &out), "bad socket path");
}

}  // namespace
}  // namespace apppass::broker

int main() {
  using namespace apppass::broker;
  signal(SIGPIPE, SIG_DFL);  // a SIGPIPE would kill the test: MSG_NOSIGNAL must prevent it
  const CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_no_socket, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_stale_socket, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_not_a_socket, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_hang_times_out_at_deadline, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_verify_deadline_under_two_seconds, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_slow_answer_is_too_late, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_close_at_once, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_garbage, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_other_major_version, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_daemon_refuses_our_version, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_overlong_line, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_malformed_replies, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_ok_reply_and_request_sent, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_fail_reply_is_transport_ok, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_items_then_ok, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_secret_in_reply, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_bad_socket_path, Setup, Teardown),
  };
  return cmocka_run_group_tests_name("broker_client", tests, nullptr, nullptr);
}
