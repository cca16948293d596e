// SHA-256 (OpenSSL EVP) and the typed, delimited key hasher used for step keys.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "util/result.hpp"

namespace lb {

/// Streaming SHA-256.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;

  void update(const void* data, size_t size);
  void update(std::string_view s) { update(s.data(), s.size()); }
  /// Finishes the hash; the object must not be updated afterwards.
  std::array<uint8_t, 32> digest();
  std::string hex_digest();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string sha256_hex(std::string_view data);
/// SHA-256 of a file's contents, as lowercase hex.
Result<std::string> sha256_file_hex(const std::string& path);

/// Digest of a file's contents with an OpenSSL algorithm ("sha256", "sha384", "sha512"), hex.
Result<std::string> digest_file_hex(const std::string& path, const std::string& algorithm);

std::string to_hex(const uint8_t* data, size_t size);
/// urlsafe base64 without padding (wheel RECORD format).
std::string base64_urlsafe_nopad(const uint8_t* data, size_t size);
/// Standard base64 (RFC 4648 section 4: "+/", '=' padding), as Nix key and signature files
/// write it.
std::string base64_encode(std::string_view bytes);
/// Strict inverse of base64_encode: nullopt unless `text` is exactly what base64_encode makes
/// of some bytes (no whitespace, padding to a multiple of 4, no bits set past the data), so
/// one value has one spelling.
std::optional<std::string> base64_decode(std::string_view text);
/// Convert a hex sha256 to the RECORD form "sha256=<urlsafe-b64-nopad>".
std::string record_hash_from_hex(std::string_view hex);
/// Parse "sha256=<b64>" (RECORD form) to hex; empty string when not sha256 or malformed.
std::string hex_from_record_hash(std::string_view record_hash);

/// A hasher for cache keys: every field is written with its name and its length,
/// so two different field lists can never produce the same byte stream
/// ("ab"+"c" differs from "a"+"bc"). `dump()` returns a readable transcript
/// of what was hashed (for `-v`/debugging why a key changed).
class KeyHasher {
 public:
  explicit KeyHasher(std::string_view domain);  // e.g. "lavabuild.unpack.v1"
  KeyHasher& field(std::string_view name, std::string_view value);
  KeyHasher& field(std::string_view name, int64_t value);
  std::string hex();
  const std::string& dump() const { return transcript_; }

 private:
  Sha256 sha_;
  std::string transcript_;
};

}  // namespace lb
