#include "buffer/buffer.hpp"

#include <algorithm>
#include <cstring>

namespace socketd {

void Buffer::append(std::string_view bytes) {
  if (bytes.empty()) return;
  make_room(bytes.size());
  std::memcpy(data_.get() + write_, bytes.data(), bytes.size());
  write_ += bytes.size();
}

void Buffer::consume(size_t n) {
  read_ += std::min(n, size());
  if (read_ == write_) clear();
}

void Buffer::clear() {
  data_.reset();
  capacity_ = read_ = write_ = 0;
}

void Buffer::make_room(size_t n) {
  if (capacity_ - write_ >= n) return;
  const size_t live = size();
  if (read_ > 0 && capacity_ - live >= n && live <= capacity_ / 2) {
    // Enough room once the consumed prefix is reclaimed.
    std::memmove(data_.get(), data_.get() + read_, live);
  } else {
    const size_t new_capacity = std::max<size_t>({256, capacity_ * 2, live + n});
    auto block = std::make_unique_for_overwrite<char[]>(new_capacity);
    if (live > 0) std::memcpy(block.get(), data_.get() + read_, live);
    data_ = std::move(block);
    capacity_ = new_capacity;
  }
  read_ = 0;
  write_ = live;
}

}  // namespace socketd
