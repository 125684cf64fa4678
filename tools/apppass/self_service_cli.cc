// What the self-service commands share (cli.h, "Self-service"): who the caller is, the
// one-user rule, one request to apppassd and reading its reply fields.
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "cli.h"
#include "text.h"

namespace apppass::cli {

Status SelfName(std::string* name) {
  const uid_t uid = getuid();
  std::vector<char> buf(16384);
  struct passwd pw {};
  struct passwd* found = nullptr;
  int rc = 0;
  while ((rc = getpwuid_r(uid, &pw, buf.data(), buf.size(), &found)) == ERANGE &&
         buf.size() < (std::size_t{1} << 20))
    buf.resize(buf.size() * 2);
  if (rc != 0)
    return Status::Unavailable(fmt::format("cannot look up uid {}: {}", uid, std::strerror(rc)));
  if (found == nullptr || found->pw_name == nullptr || found->pw_name[0] == '\0')
    return Status::NotFound(fmt::format(
        "uid {} has no user name (no passwd entry); app passwords belong to named accounts", uid));
  *name = found->pw_name;
  return Status::Ok();
}

Status CheckSelfUser(const std::string& given, std::string* self) {
  Status s = SelfName(self);
  if (!s.ok()) return s;
  if (given.empty() || given == *self) return Status::Ok();
  // The same answer for every other name, whether that user exists or not.
  return Status::NotFound(fmt::format(
      "{}: not found (as {}, you can see and change only your own app passwords and MFA)", given,
      *self));
}

Status CallBroker(const Context& ctx, broker::Request& request, broker::CallResult* out) {
  Status s = broker::Call(ctx.socket, request, broker::kRequestTimeout, out);
  if (!s.ok()) {
    // The client's message may already say "the apppass service is not running (...)":
    // keep only the detail, so the line reads the same whatever went wrong.
    std::string detail = s.message();
    constexpr std::string_view kPrefix = "the apppass service is not running (";
    if (detail.starts_with(kPrefix) && detail.ends_with(")"))
      detail = detail.substr(kPrefix.size(), detail.size() - kPrefix.size() - 1);
    return Status::Unavailable(
        fmt::format("the apppass service is not running ({}); ask your administrator", detail));
  }
  return broker::ReplyStatus(out->final);
}

std::string FieldText(const broker::Reply& r, std::string_view key) {
  const std::string* v = r.fields.Get(key);
  return v == nullptr ? std::string() : *v;
}

std::optional<std::string> OptionalField(const broker::Reply& r, std::string_view key) {
  const std::string* v = r.fields.Get(key);
  return v == nullptr ? std::nullopt : std::optional<std::string>(*v);
}

std::optional<int> CountField(const broker::Reply& r, std::string_view key) {
  const std::string* v = r.fields.Get(key);
  if (v == nullptr || v->empty() || v->size() > 7 || (v->size() > 1 && (*v)[0] == '0'))
    return std::nullopt;
  int n = 0;
  const auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || end != v->data() + v->size() || n > 1000000) return std::nullopt;
  return n;
}

std::vector<std::string> SplitSpaces(std::string_view text) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t end = std::min(text.find(' ', pos), text.size());
    if (end > pos) out.emplace_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

int NeedsRoot(const std::string& command) {
  std::fprintf(stderr,
               "apppass: %s needs root; as a user you can list, create and revoke your own app "
               "passwords (see apppass(8), SELF-SERVICE)\n",
               command.c_str());
  return kExitRefused;
}

}  // namespace apppass::cli
