#include "sasl_state.h"

#include <fmt/format.h>
#include <unistd.h>

#include "sasl_log.h"

namespace apppass::sasl {

namespace {

// Opens the store and usage database for this process, or, when it is not root, sets it
// to ask the broker.
std::shared_ptr<const ProcessState> OpenStore(const SaslOptions& opts, const sasl_utils_t* utils) {
  auto st = std::make_shared<ProcessState>();
  st->pid = getpid();
  if (geteuid() != 0) {
    st->via_broker = true;
    st->fail_code = SASL_OK;
    return st;
  }
  Status s = Store::Open(opts.db, Store::Mode::kVerify, &st->store);
  if (!s.ok()) {
    st->fail_code = SASL_UNAVAIL;
    st->fail_reason = "unavailable";
    st->fail_detail = s.message();
    Log(utils, SASL_LOG_ERR,
        fmt::format("cannot open the store: {}. PLAIN and LOGIN refuse every login "
                    "(they are not handed to other plugins) until the store can be opened "
                    "and the service is restarted",
                    s.message()));
    return st;
  }
  st->fail_code = SASL_OK;
  if (!opts.usage) return st;
  s = UsageDb::Open(opts.db, true, &st->usage);
  st->usage_open = s.ok();
  if (!s.ok())
    Log(utils, SASL_LOG_WARN,
        fmt::format("last use will not be recorded: {} (logins are not affected)", s.message()));
  return st;
}

}  // namespace

void StoreState::Init(const SaslOptions& opts, const Status& options, const sasl_utils_t* utils) {
  options_ok_ = options.ok();
  if (options_ok_) {
    current_ = OpenStore(opts, utils);
    return;
  }
  auto st = std::make_shared<ProcessState>();
  st->pid = getpid();
  st->fail_code = SASL_FAIL;
  st->fail_reason = "bad-option";
  st->fail_detail = options.message();
  Log(utils, SASL_LOG_ERR,
      fmt::format("bad option: {}. PLAIN and LOGIN refuse every login (they are not "
                  "handed to other plugins) until the SASL config is fixed",
                  options.message()));
  current_ = std::move(st);
}

std::shared_ptr<const ProcessState> StoreState::Current(const SaslOptions& opts,
                                                        const sasl_utils_t* utils) {
  std::lock_guard<std::mutex> lock(mu_);
  if (current_ == nullptr) {  // Init did not run: fail closed
    auto st = std::make_shared<ProcessState>();
    st->fail_reason = "unavailable";
    st->fail_detail = "not initialized";
    current_ = std::move(st);
  }
  // A bad option stays bad in a child; a store is reopened in the child's own name.
  if (options_ok_ && current_->pid != getpid() && (!current_->via_broker || geteuid() == 0))
    current_ = OpenStore(opts, utils);
  return current_;
}

}  // namespace apppass::sasl
