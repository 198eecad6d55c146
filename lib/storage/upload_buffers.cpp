#include "storage/upload_buffers.hpp"

#include <atomic>

namespace socketd {
namespace {

std::atomic<uint64_t> g_buffered{0};

}  // namespace

void BlockFree::operator()(char* p) const noexcept {
  g_buffered.fetch_sub(size, std::memory_order_relaxed);
  delete[] p;
}

Block new_block(size_t size) {
  g_buffered.fetch_add(size, std::memory_order_relaxed);
  return Block(new char[size], BlockFree{size});
}

uint64_t upload_buffer_bytes() {
  return g_buffered.load(std::memory_order_relaxed);
}

}  // namespace socketd
