// SecretBuffer: a fixed-capacity byte buffer for passwords, keys and TOTP secrets.
//
// Memory comes from sodium_malloc (guard pages, mlock'ed so it is not swapped, excluded
// from core dumps via MADV_DONTDUMP) and is wiped by sodium_free on destruction. The
// buffer never reallocates, so no unwiped copy is left behind by growth. Move-only.
// Not thread-safe.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

namespace apppass {

// A view of secret bytes that someone else owns (a key inside a SecretBuffer).
using SecretBytes = std::span<const unsigned char>;

class SecretBuffer {
 public:
  SecretBuffer() = default;
  // Allocates `capacity` bytes (zeroed). On allocation failure valid() is false.
  explicit SecretBuffer(std::size_t capacity);
  ~SecretBuffer();
  SecretBuffer(SecretBuffer&& other) noexcept;
  SecretBuffer& operator=(SecretBuffer&& other) noexcept;
  SecretBuffer(const SecretBuffer&) = delete;
  SecretBuffer& operator=(const SecretBuffer&) = delete;

  bool valid() const { return data_ != nullptr; }
  unsigned char* data() { return data_; }
  const unsigned char* data() const { return data_; }
  std::size_t size() const { return size_; }
  std::size_t capacity() const { return capacity_; }
  // REQUIRES: n <= capacity().
  void resize(std::size_t n) { size_ = n; }
  // Appends one byte; returns false when full.
  bool push_back(unsigned char c);
  std::string_view view() const { return {reinterpret_cast<const char*>(data_), size_}; }
  // The bytes in use, as std::string converts to std::string_view.
  operator SecretBytes() const { return {data_, size_}; }  // NOLINT(google-explicit-constructor)
  // Copies `s` in; returns false (and stays empty) when it does not fit.
  bool assign(std::string_view s);
  void clear();

 private:
  void release();
  unsigned char* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

// Wipes a std::string's bytes in place (for strings that held a secret we did not
// allocate, such as a value parsed from stdin) and empties it.
void WipeString(std::string& s);

}  // namespace apppass
