// Signing and checking lavabuild's remote action entries with Ed25519 (OpenSSL
// EVP_PKEY_ED25519), the way Nix binary caches sign store paths.
//
// Key files (one line, plus an optional trailing newline), made by `lavabuild cache keygen`:
//   secret key  "<name>:<base64 of the 32-byte Ed25519 seed>"       (file mode 0600)
//   public key  "<name>:<base64 of the 32-byte Ed25519 public key>"
// A name is 1-128 characters of [A-Za-z0-9._-] (e.g. "ci.example.org-1"); base64 is standard,
// with padding.
//
// What is signed (format "lavabuild.entry.v1"): the fingerprint
//   "lavabuild.entry.v1;<index key>;<sha256 hex of the entry manifest>;<its size in bytes>"
// (index key as in store/store.hpp, e.g. "build/3f2a..."). A signature is written
// "<key name>:<base64 of the 64-byte signature>". The manifest blob names the key and the
// blobs (remote/layer.hpp), so the signature covers everything the entry makes a client use;
// it never covers the ActionResult bytes a server stores (servers rewrite them).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/result.hpp"

namespace lb::remote {

struct SecretKey {
  std::string name;
  std::string seed;  ///< 32 raw bytes
};

struct PublicKey {
  std::string name;
  std::string key;  ///< 32 raw bytes
};

/// A new key pair named `name` (an error for a malformed name).
Result<std::pair<SecretKey, PublicKey>> generate_key(const std::string& name);
/// The public half of a secret key.
PublicKey public_of(const SecretKey& k);

std::string format_secret_key(const SecretKey& k);  ///< the file line, no newline
std::string format_public_key(const PublicKey& k);
/// Parse a key file's text; errors name `where` (the file) and what is wrong.
Result<SecretKey> parse_secret_key(std::string_view text, const std::string& where);
Result<PublicKey> parse_public_key(std::string_view text, const std::string& where);
/// Read and parse a key file (an error names the file; a secret key readable by group or
/// others is refused: "chmod 600 FILE").
Result<SecretKey> read_secret_key(const std::string& path);
Result<PublicKey> read_public_key(const std::string& path);

/// The fingerprint that is signed (see above).
std::string entry_fingerprint(std::string_view index_key, std::string_view manifest_sha256,
                              uint64_t manifest_size);

/// "<name>:<base64 signature>" of `message`.
std::string sign(const SecretKey& k, std::string_view message);

/// Why `signature` is not a valid signature of `message` by one of `trusted`: "" when it is.
/// E.g. "signed by untrusted key NAME", "bad signature by NAME", "malformed signature".
std::string check_signature(const std::vector<PublicKey>& trusted, std::string_view message,
                            std::string_view signature);

/// `lavabuild cache keygen`: a new key pair named `name`, the secret key written to
/// `secret_path` (mode 0600) and the public key to `public_path` (0644), each one line and a
/// newline. Never overwrites: an error naming the file when either exists, and then nothing is
/// written. Returns the public key.
Result<PublicKey> write_key_pair(const std::string& name, const std::string& secret_path,
                                 const std::string& public_path);

}  // namespace lb::remote
