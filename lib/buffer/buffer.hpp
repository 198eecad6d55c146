// Buffer: a byte queue with a read index and a write index over one heap
// block. The block is allocated on first append and freed once drained, so an
// idle connection holds no buffer memory at all.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string_view>

namespace socketd {

class Buffer {
 public:
  size_t size() const { return write_ - read_; }
  bool empty() const { return write_ == read_; }
  size_t capacity() const { return capacity_; }
  std::span<const char> readable() const { return {data_.get() + read_, size()}; }
  std::string_view view() const { return {data_.get() + read_, size()}; }

  void append(std::string_view bytes);
  // Drops n bytes from the front; frees the block when nothing is left.
  void consume(size_t n);
  void clear();

 private:
  void make_room(size_t n);

  std::unique_ptr<char[]> data_;
  size_t capacity_ = 0;
  size_t read_ = 0;
  size_t write_ = 0;
};

}  // namespace socketd
