#include "audit.h"

#include <syslog.h>

#include <fmt/format.h>

#include "broker_protocol.h"
#include "text.h"

namespace apppass::daemon {

void Log(int level, std::string_view line) {
  syslog(LOG_AUTHPRIV | level, "%.*s", static_cast<int>(line.size()), line.data());
}

std::string FormatChange(const ChangeEvent& ev, const Status& result) {
  std::string line = fmt::format("change op={} uid={} user={}", LogSafe(ev.op), ev.uid,
                                 ev.user.empty() ? "-" : LogSafe(ev.user));
  if (!ev.ids.empty()) {
    std::string ids;
    for (const std::string& id : ev.ids) ids += (ids.empty() ? "" : ",") + LogSafe(id);
    line += " id=" + ids;
  }
  if (!ev.key.empty()) line += fmt::format(" key={} value={}", LogSafe(ev.key), LogSafe(ev.value));
  if (result.ok()) return line + " result=ok";
  return line + fmt::format(" result={} detail={}",
                            broker::ReplyCodeName(broker::ReplyCodeFor(result.code())),
                            LogQuoted(result.message()));
}

void AuditChange(const ChangeEvent& ev, const Status& result) {
  Log(result.ok() ? LOG_INFO : LOG_NOTICE, FormatChange(ev, result));
}

}  // namespace apppass::daemon
