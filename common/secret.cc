#include "secret.h"

#include <sodium.h>

#include <cstring>
#include <string>

namespace apppass {

SecretBuffer::SecretBuffer(std::size_t capacity) {
  if (capacity == 0 || sodium_init() < 0) return;
  data_ = static_cast<unsigned char*>(sodium_malloc(capacity));
  if (data_ == nullptr) return;
  sodium_memzero(data_, capacity);
  capacity_ = capacity;
}

SecretBuffer::~SecretBuffer() { release(); }

SecretBuffer::SecretBuffer(SecretBuffer&& other) noexcept
    : data_(other.data_), size_(other.size_), capacity_(other.capacity_) {
  other.data_ = nullptr;
  other.size_ = other.capacity_ = 0;
}

SecretBuffer& SecretBuffer::operator=(SecretBuffer&& other) noexcept {
  if (this != &other) {
    release();
    data_ = other.data_;
    size_ = other.size_;
    capacity_ = other.capacity_;
    other.data_ = nullptr;
    other.size_ = other.capacity_ = 0;
  }
  return *this;
}

void SecretBuffer::release() {
  if (data_ != nullptr) sodium_free(data_);  // sodium_free wipes before freeing
  data_ = nullptr;
  size_ = capacity_ = 0;
}

bool SecretBuffer::push_back(unsigned char c) {
  if (size_ >= capacity_) return false;
  data_[size_++] = c;
  return true;
}

bool SecretBuffer::assign(std::string_view s) {
  clear();
  if (s.size() > capacity_) return false;
  if (!s.empty()) std::memcpy(data_, s.data(), s.size());
  size_ = s.size();
  return true;
}

void SecretBuffer::clear() {
  if (data_ != nullptr) sodium_memzero(data_, capacity_);
  size_ = 0;
}

void WipeString(std::string& s) {
  if (!s.empty()) sodium_memzero(s.data(), s.size());
  s.clear();
}

}  // namespace apppass
