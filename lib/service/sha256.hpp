// Sha256: an incremental SHA-256 (OpenSSL libcrypto, which uses the CPU's SHA
// extensions where present). Owns its digest context; pure computation.
#pragma once

#include <memory>
#include <span>
#include <string>

struct evp_md_ctx_st;

namespace socketd {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;

  void update(std::span<const char> bytes);
  // The digest of everything given so far, as 64 lowercase hex digits (what
  // sha256sum prints). Ends the computation: call reset() before reusing.
  std::string hex_digest();
  void reset();

 private:
  struct Free {
    void operator()(evp_md_ctx_st* ctx) const;
  };
  std::unique_ptr<evp_md_ctx_st, Free> ctx_;
};

}  // namespace socketd
