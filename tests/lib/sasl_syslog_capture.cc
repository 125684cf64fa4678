// Linked into the in-process SASL test programs (tests/sasl, tests/faults, tests/files):
// libsasl has no connection, hence no application callback, while plug_init runs, so what
// a plugin logs then goes to libsasl's default, syslog(LOG_AUTH). These definitions take
// the place of libc's for the whole program (libsasl2 is built with _FORTIFY_SOURCE and
// calls __syslog_chk) and append each line to sasltest::g_log as "syslog: LINE".
#include <cstdarg>
#include <cstdio>
#include <string>

#include "sasl_harness.h"

namespace {
void CaptureSyslog(const char* format, va_list ap) {
  char buf[2048];
  std::vsnprintf(buf, sizeof buf, format, ap);
  sasltest::g_log.push_back(std::string("syslog: ") + buf);
}
}  // namespace

extern "C" __attribute__((visibility("default"))) void syslog(int, const char* format, ...) {
  va_list ap;
  va_start(ap, format);
  CaptureSyslog(format, ap);
  va_end(ap);
}

extern "C" __attribute__((visibility("default"))) void __syslog_chk(int, int, const char* format,
                                                                    ...) {
  va_list ap;
  va_start(ap, format);
  CaptureSyslog(format, ap);
  va_end(ap);
}
