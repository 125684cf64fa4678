// libapppass_fault.so: a test-only LD_PRELOAD library that injects faults into the process
// it is loaded into (a test program, pamtester). Never linked into product code; product
// code never reads its variables.
//
// Environment (read when the library loads and whenever apppass_fault_reload() is called):
//   APPPASS_FAULT_ALLOC_NTH=N     the Nth allocation counted from then on fails, once:
//                                 malloc, calloc, realloc, posix_memalign, aligned_alloc,
//                                 operator new / new[] (throw std::bad_alloc, or nullptr for
//                                 the nothrow forms), sodium_malloc, sodium_allocarray.
//                                 An allocation made inside another (operator new calling
//                                 malloc) counts once.
//   APPPASS_FAULT_SODIUM_INIT=1   sodium_init() returns -1.
//   APPPASS_FAULT_TRACE=1         print the stack of the failed allocation on stderr.
//
// apppass_fault_stats() reports how many allocations were counted, which one failed, and
// how many had been counted when mdb_txn_abort/mdb_txn_reset was first called (the end of
// the verifier's read transaction: what came after is bookkeeping after the decision).
//
// Calls are forwarded with dlsym(RTLD_NEXT). dlsym itself may allocate before malloc is
// resolved: those few early allocations come from a static arena and are never freed.
// Under ASan the runtime comes first in LD_PRELOAD and its malloc and operator new win:
// then only the libsodium allocations are counted and failed.
#include <dlfcn.h>
#include <execinfo.h>
#include <lmdb.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#define FAULT_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

using MallocFn = void* (*)(std::size_t);
using CallocFn = void* (*)(std::size_t, std::size_t);
using ReallocFn = void* (*)(void*, std::size_t);
using FreeFn = void (*)(void*);
using MemalignFn = int (*)(void**, std::size_t, std::size_t);
using AlignedAllocFn = void* (*)(std::size_t, std::size_t);
using NewFn = void* (*)(std::size_t);
using NewNothrowFn = void* (*)(std::size_t, const std::nothrow_t&);
using SodiumInitFn = int (*)();
using SodiumArrayFn = void* (*)(std::size_t, std::size_t);
using TxnFn = void (*)(MDB_txn*);

// Early allocations (while dlsym resolves malloc) come from here.
alignas(std::max_align_t) unsigned char g_arena[64 * 1024];
std::atomic<std::size_t> g_arena_used{0};

bool InArena(const void* p) {
  return p >= static_cast<const void*>(g_arena) &&
         p < static_cast<const void*>(g_arena + sizeof g_arena);
}

void* ArenaAlloc(std::size_t n) {
  const std::size_t size = (n + 15) & ~std::size_t{15};
  const std::size_t at = g_arena_used.fetch_add(size);
  if (at + size > sizeof g_arena) return nullptr;
  return g_arena + at;
}

thread_local int t_resolving = 0;  // inside dlsym: serve from the arena
thread_local int t_depth = 0;      // inside a counted allocation: do not count again

template <typename F>
F Next(const char* name) {
  ++t_resolving;
  void* p = dlsym(RTLD_NEXT, name);
  --t_resolving;
  return reinterpret_cast<F>(p);
}

// Configuration and counters (a process runs one scenario at a time).
std::atomic<long> g_fail_at{0};  // 0: no allocation fault
std::atomic<bool> g_sodium_fail{false};
std::atomic<long> g_count{0};
std::atomic<long> g_fired_at{0};
std::atomic<long> g_marker{0};  // g_count at the first mdb_txn_abort/reset, + 1

long EnvLong(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return 0;
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  return end != nullptr && *end == '\0' && n > 0 ? n : 0;
}

// True when this allocation is the one to fail. Counts every top-level allocation.
bool ShouldFail() {
  if (t_depth > 0) return false;
  const long n = g_count.fetch_add(1) + 1;
  const long at = g_fail_at.load();
  if (at != 0 && n == at) {
    g_fired_at.store(n);
    // APPPASS_FAULT_TRACE=1: where the failed allocation was made, on stderr.
    if (const char* t = std::getenv("APPPASS_FAULT_TRACE"); t != nullptr && *t == '1') {
      ++t_depth;
      void* frames[24];
      const int k = backtrace(frames, 24);
      backtrace_symbols_fd(frames, k, 2);
      --t_depth;
    }
    return true;
  }
  return false;
}

// Marks a counted allocation in progress for the current thread.
struct Depth {
  Depth() { ++t_depth; }
  ~Depth() { --t_depth; }
};

void MarkDecision() {
  long expected = 0;
  g_marker.compare_exchange_strong(expected, g_count.load() + 1);
}

}  // namespace

FAULT_EXPORT void apppass_fault_reload() {
  g_fail_at.store(EnvLong("APPPASS_FAULT_ALLOC_NTH"));
  g_sodium_fail.store(EnvLong("APPPASS_FAULT_SODIUM_INIT") != 0);
  g_count.store(0);
  g_fired_at.store(0);
  g_marker.store(0);
}

struct apppass_fault_stats_t {
  long allocations;  // counted since the last reload
  long fired_at;     // the allocation that failed (0: none)
  long marker;       // allocations counted at the first mdb_txn_abort/reset (-1: none)
};

FAULT_EXPORT void apppass_fault_stats(apppass_fault_stats_t* out) {
  out->allocations = g_count.load();
  out->fired_at = g_fired_at.load();
  out->marker = g_marker.load() - 1;
}

__attribute__((constructor)) static void FaultInit() { apppass_fault_reload(); }

// --- C allocation functions.

FAULT_EXPORT void* malloc(std::size_t n) {
  static MallocFn real = nullptr;
  if (t_resolving > 0) return ArenaAlloc(n);
  if (real == nullptr) real = Next<MallocFn>("malloc");
  // dlsym called from inside dlsym (ASan resolving its interceptors) finds nothing yet.
  if (real == nullptr) return ArenaAlloc(n);
  if (ShouldFail()) {
    errno = ENOMEM;
    return nullptr;
  }
  Depth d;
  return real(n);
}

FAULT_EXPORT void* calloc(std::size_t n, std::size_t size) {
  static CallocFn real = nullptr;
  if (t_resolving > 0) {
    void* p = ArenaAlloc(n * size);  // the arena is zero and never reused
    return p;
  }
  if (real == nullptr) real = Next<CallocFn>("calloc");
  if (real == nullptr) return ArenaAlloc(n * size);
  if (ShouldFail()) {
    errno = ENOMEM;
    return nullptr;
  }
  Depth d;
  return real(n, size);
}

FAULT_EXPORT void free(void* p) {
  static FreeFn real = nullptr;
  if (p == nullptr || InArena(p)) return;
  if (real == nullptr) real = Next<FreeFn>("free");
  if (real != nullptr) real(p);
}

FAULT_EXPORT void* realloc(void* p, std::size_t n) {
  static ReallocFn real = nullptr;
  if (t_resolving > 0 && p == nullptr) return ArenaAlloc(n);
  if (real == nullptr) real = Next<ReallocFn>("realloc");
  if (InArena(p) || real == nullptr) {  // move an early block out of the arena
    void* q = real == nullptr ? ArenaAlloc(n) : malloc(n);
    const std::size_t room =
        InArena(p)
            ? static_cast<std::size_t>(g_arena + sizeof g_arena - static_cast<unsigned char*>(p))
            : 0;
    if (q != nullptr && p != nullptr) std::memcpy(q, p, n < room ? n : room);
    return q;
  }
  if (n != 0 && ShouldFail()) {
    errno = ENOMEM;
    return nullptr;
  }
  Depth d;
  return real(p, n);
}

FAULT_EXPORT int posix_memalign(void** out, std::size_t align, std::size_t n) {
  static MemalignFn real = nullptr;
  if (real == nullptr) real = Next<MemalignFn>("posix_memalign");
  if (ShouldFail()) return ENOMEM;
  Depth d;
  return real(out, align, n);
}

FAULT_EXPORT void* aligned_alloc(std::size_t align, std::size_t n) {
  static AlignedAllocFn real = nullptr;
  if (real == nullptr) real = Next<AlignedAllocFn>("aligned_alloc");
  if (ShouldFail()) {
    errno = ENOMEM;
    return nullptr;
  }
  Depth d;
  return real(align, n);
}

// --- C++ operator new (libstdc++'s, or ASan's, is called when no fault is due).

void* operator new(std::size_t n) {
  static NewFn real = nullptr;
  if (real == nullptr) real = Next<NewFn>("_Znwm");
  if (ShouldFail()) throw std::bad_alloc();
  Depth d;
  return real(n);
}

void* operator new[](std::size_t n) {
  static NewFn real = nullptr;
  if (real == nullptr) real = Next<NewFn>("_Znam");
  if (ShouldFail()) throw std::bad_alloc();
  Depth d;
  return real(n);
}

void* operator new(std::size_t n, const std::nothrow_t& nt) noexcept {
  static NewNothrowFn real = nullptr;
  if (real == nullptr) real = Next<NewNothrowFn>("_ZnwmRKSt9nothrow_t");
  if (ShouldFail()) return nullptr;
  Depth d;
  return real(n, nt);
}

void* operator new[](std::size_t n, const std::nothrow_t& nt) noexcept {
  static NewNothrowFn real = nullptr;
  if (real == nullptr) real = Next<NewNothrowFn>("_ZnamRKSt9nothrow_t");
  if (ShouldFail()) return nullptr;
  Depth d;
  return real(n, nt);
}

// --- libsodium.

FAULT_EXPORT void* sodium_malloc(std::size_t n) {
  static MallocFn real = nullptr;
  if (real == nullptr) real = Next<MallocFn>("sodium_malloc");
  if (ShouldFail()) {
    errno = ENOMEM;
    return nullptr;
  }
  Depth d;
  return real(n);
}

FAULT_EXPORT void* sodium_allocarray(std::size_t count, std::size_t size) {
  static SodiumArrayFn real = nullptr;
  if (real == nullptr) real = Next<SodiumArrayFn>("sodium_allocarray");
  if (ShouldFail()) {
    errno = ENOMEM;
    return nullptr;
  }
  Depth d;
  return real(count, size);
}

FAULT_EXPORT int sodium_init() {
  static SodiumInitFn real = nullptr;
  if (g_sodium_fail.load()) return -1;
  if (real == nullptr) real = Next<SodiumInitFn>("sodium_init");
  return real();
}

// --- LMDB: where the verifier's read transaction ends.

FAULT_EXPORT void mdb_txn_abort(MDB_txn* txn) {
  static TxnFn real = nullptr;
  if (real == nullptr) real = Next<TxnFn>("mdb_txn_abort");
  MarkDecision();
  real(txn);
}

FAULT_EXPORT void mdb_txn_reset(MDB_txn* txn) {
  static TxnFn real = nullptr;
  if (real == nullptr) real = Next<TxnFn>("mdb_txn_reset");
  MarkDecision();
  real(txn);
}
