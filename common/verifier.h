// Verify: the one decision apppass makes in the auth path.
//
// Given a user, what they typed and the service, answers whether it is an active app
// password of that user valid for that service. Cost: one keyed hash, four B-tree
// searches, one record tag check and two record decodings, the same work for every
// outcome (so its time does not tell them apart; see verifier.cc) and independent of how
// many users or passwords exist. Never records anything; see usage.h for last use.
// Thread-safe: Verify on a Store opened in kVerify mode may be called from many threads at
// once (store.h states the whole contract).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "store.h"

namespace apppass {

enum class Outcome {
  kAccepted,
  kUnknownUser,    // no app passwords and no enrollment for this user
  kWrongPassword,  // not an app password of this user (or not one at all)
  kRevoked,
  kExpired,
  kOutOfScope,   // valid, but not for this service
  kBadInput,     // user or password unusable (empty, too long, NUL, bad UTF-8)
  kUnavailable,  // the store could not be read
};

// Stable lowercase name used in logs ("accepted", "wrong-password", ...).
std::string_view OutcomeName(Outcome o);

struct Decision {
  Outcome outcome = Outcome::kUnavailable;  // fail closed until decided
  std::string id;                           // the matched credential, when one matched
  std::string name;
  std::string detail;  // for kBadInput / kUnavailable: why (never the password)
  // Whether the user has a confirmed MFA enrollment (read in the same transaction, at the
  // same cost whatever it holds): what unenrolled=ignore / apppass_unenrolled: pwcheck
  // decide by. False for kBadInput and kUnavailable.
  bool enrolled = false;
};

// Every Verify takes at least this long (a spin after the work), so that what is left of
// the outcomes' timing differences cannot be measured: 100 us, set at build time by
// APPPASS_VERIFY_FLOOR_US (0 in the fuzzing build only). Above the work's own time, far
// below anything a login notices (docs/reliability.md, "Timing"). The spin holds the CPU
// for the rest of the floor: a verification costs the floor's whole length in CPU time; a
// sleep and a sleep-then-spin were measured against it (docs/design.md, "Time floor: spin
// or sleep").
std::int64_t VerifyFloorNs();

// How Verify waits out the floor in this build: "spin" (the default), "sleep" or "hybrid"
// (APPPASS_VERIFY_FLOOR_MODE; the other two exist so that benchmarks can compare).
std::string_view VerifyFloorMode();

// REQUIRES: store opened (either mode). `password` is what the client sent, unmodified.
Decision Verify(const Store& store, std::string_view user, std::string_view password,
                std::string_view service, std::int64_t now);

namespace internal {
// Verify without the time floor: for tests/timing and tests/bench, which measure the work
// itself. Never call it in the auth path.
Decision VerifyUnpadded(const Store& store, std::string_view user, std::string_view password,
                        std::string_view service, std::int64_t now);
}  // namespace internal

}  // namespace apppass
