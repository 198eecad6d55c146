// The buffers upload bytes travel in to the disk (storage/upload_file.hpp),
// counted process-wide so that tests can bound the memory uploads hold.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace socketd {

// Upload buffer memory, counted for upload_buffer_bytes() until freed.
struct BlockFree {
  size_t size = 0;
  void operator()(char* p) const noexcept;
};
using Block = std::unique_ptr<char[], BlockFree>;

Block new_block(size_t size);

// A buffer on its way to the disk; recycled, since a fresh 1 MiB block costs
// an mmap and 256 page faults.
struct Chunk {
  Block bytes;
  size_t size = 0;
  size_t capacity = 0;
};

// Bytes held in upload buffers by this process right now (all uploads).
uint64_t upload_buffer_bytes();

}  // namespace socketd
