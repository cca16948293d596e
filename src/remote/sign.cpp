#include "remote/sign.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>

#include <cstdio>
#include <memory>
#include <stdexcept>

#include "util/fs.hpp"
#include "util/hash.hpp"

namespace lb::remote {

namespace {

constexpr size_t kSeedSize = 32, kPublicSize = 32, kSignatureSize = 64;
constexpr size_t kMaxNameSize = 128;
constexpr const char* kKeygenHint =
    "make a key pair with `lavabuild cache keygen --name NAME --secret-key FILE --public-key "
    "FILE`";

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

const unsigned char* bytes_of(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

/// OpenSSL failing on well-formed 32-byte keys is not something a user can cause or fix (no
/// memory, a broken provider): a programming/environment error, thrown to main.
[[noreturn]] void openssl_failed(const char* what) {
  throw std::runtime_error(std::string("OpenSSL: cannot ") + what + " (Ed25519)");
}

Pkey private_pkey(const SecretKey& k) {
  if (k.seed.size() != kSeedSize) throw std::logic_error("remote::SecretKey: seed is not 32 bytes");
  Pkey p(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, bytes_of(k.seed), k.seed.size()));
  if (!p) openssl_failed("load a secret key");
  return p;
}

/// Why `name` cannot be a key name, or "" when it can.
std::string name_problem(std::string_view name) {
  if (name.empty()) return "the key name is empty";
  if (name.size() > kMaxNameSize)
    return "the key name is longer than " + std::to_string(kMaxNameSize) + " characters";
  for (char c : name)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
          c == '_' || c == '-'))
      return "the key name '" + std::string(name) +
             "' has a character other than A-Z, a-z, 0-9, '.', '_' and '-'";
  return {};
}

/// "<name>:<base64 of `size` bytes>": the shared shape of key files and signatures. Returns
/// the name and the decoded bytes, or why the text is not that.
struct NamedBytes {
  std::string name, bytes;
};
Result<NamedBytes> parse_named(std::string_view text, size_t size, const char* what) {
  auto colon = text.find(':');
  if (colon == std::string_view::npos)
    return make_error("no ':' between the name and the " + std::string(what));
  std::string_view name = text.substr(0, colon), b64 = text.substr(colon + 1);
  if (auto p = name_problem(name); !p.empty()) return make_error(p);
  auto bytes = base64_decode(b64);
  if (!bytes)
    return make_error("the " + std::string(what) +
                      " is not standard base64 (A-Z a-z 0-9 + /, '=' padding)");
  if (bytes->size() != size)
    return make_error("the " + std::string(what) + " is " + std::to_string(bytes->size()) +
                      " bytes, not " + std::to_string(size));
  return NamedBytes{std::string(name), std::move(*bytes)};
}

/// A key file's text: one line, an optional trailing newline, nothing blank in it.
Result<NamedBytes> parse_key_text(std::string_view text, const std::string& where, size_t size,
                                  const char* kind, const char* hint) {
  auto fail = [&](const std::string& why) {
    return make_error(where + ": not a lavabuild " + kind + ": " + why, hint);
  };
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  if (text.empty()) return fail("it is empty");
  if (text.find('\n') != std::string_view::npos) return fail("it has more than one line");
  for (char c : text)
    if (c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f' || c == '\0')
      return fail("it has a space, tab, carriage return or NUL in it");
  auto parsed = parse_named(text, size, kind);
  if (!parsed.ok()) return fail(parsed.error().message);
  return parsed;
}

}  // namespace

Result<std::pair<SecretKey, PublicKey>> generate_key(const std::string& name) {
  if (auto p = name_problem(name); !p.empty())
    return make_error("cannot make a key pair: " + p,
                      "a name is 1-128 characters of A-Z a-z 0-9 . _ - (e.g. ci.example.org-1)");
  SecretKey sk{name, std::string(kSeedSize, '\0')};
  // The seed is the whole secret: 32 bytes from OpenSSL's CSPRNG, as EVP_PKEY_Q_keygen would
  // draw them, without a round trip through a key object.
  if (RAND_bytes(reinterpret_cast<unsigned char*>(sk.seed.data()), int(kSeedSize)) != 1)
    openssl_failed("draw random bytes for a key");
  PublicKey pk = public_of(sk);
  return std::pair{std::move(sk), std::move(pk)};
}

PublicKey public_of(const SecretKey& k) {
  Pkey p = private_pkey(k);
  PublicKey out{k.name, std::string(kPublicSize, '\0')};
  size_t len = out.key.size();
  if (EVP_PKEY_get_raw_public_key(p.get(), reinterpret_cast<unsigned char*>(out.key.data()),
                                  &len) != 1 ||
      len != kPublicSize)
    openssl_failed("derive a public key");
  return out;
}

std::string format_secret_key(const SecretKey& k) {
  return k.name + ":" + base64_encode(k.seed);
}

std::string format_public_key(const PublicKey& k) {
  return k.name + ":" + base64_encode(k.key);
}

Result<SecretKey> parse_secret_key(std::string_view text, const std::string& where) {
  LB_ASSIGN(NamedBytes nb, parse_key_text(text, where, kSeedSize, "secret key", kKeygenHint));
  return SecretKey{std::move(nb.name), std::move(nb.bytes)};
}

Result<PublicKey> parse_public_key(std::string_view text, const std::string& where) {
  LB_ASSIGN(NamedBytes nb,
            parse_key_text(text, where, kPublicSize, "public key",
                           "a public key is the NAME:BASE64 line `lavabuild cache keygen` "
                           "printed and wrote to its --public-key file"));
  return PublicKey{std::move(nb.name), std::move(nb.bytes)};
}

Result<SecretKey> read_secret_key(const std::string& path) {
  // stat, not lstat: a key may be a symlink (a mounted secret); its target's mode counts.
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", unsigned(st.st_mode & 07777));
    return make_error(path + ": the secret key is open to group or others (mode " + mode + ")",
                      "chmod 600 " + path);
  }
  auto text = fs::read_file(path);
  if (!text.ok()) return Error{text.error().message, kKeygenHint};
  return parse_secret_key(*text, path);
}

Result<PublicKey> read_public_key(const std::string& path) {
  LB_ASSIGN(std::string text, fs::read_file(path));
  return parse_public_key(text, path);
}

std::string entry_fingerprint(std::string_view index_key, std::string_view manifest_sha256,
                              uint64_t manifest_size) {
  return "lavabuild.entry.v1;" + std::string(index_key) + ";" + std::string(manifest_sha256) + ";" +
         std::to_string(manifest_size);
}

std::string sign(const SecretKey& k, std::string_view message) {
  Pkey p = private_pkey(k);
  MdCtx ctx(EVP_MD_CTX_new());
  std::string sig(kSignatureSize, '\0');
  size_t len = sig.size();
  // Ed25519 hashes the message itself (PureEdDSA): no digest, one-shot only.
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, p.get()) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     bytes_of(message), message.size()) != 1 ||
      len != kSignatureSize)
    openssl_failed("sign");
  return k.name + ":" + base64_encode(sig);
}

std::string check_signature(const std::vector<PublicKey>& trusted, std::string_view message,
                            std::string_view signature) {
  auto parsed = parse_named(signature, kSignatureSize, "signature");
  if (!parsed.ok()) return "malformed signature: " + parsed.error().message;
  bool named = false;
  // Several trusted keys may share a name (a key being rotated): any of them may have signed.
  for (const auto& k : trusted) {
    if (k.name != parsed->name || k.key.size() != kPublicSize) continue;
    named = true;
    Pkey p(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, bytes_of(k.key), k.key.size()));
    MdCtx ctx(EVP_MD_CTX_new());
    if (!p || !ctx) openssl_failed("load a public key");
    if (EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, p.get()) == 1 &&
        EVP_DigestVerify(ctx.get(), bytes_of(parsed->bytes), parsed->bytes.size(),
                         bytes_of(message), message.size()) == 1)
      return {};
  }
  if (!named) return "signed by untrusted key " + parsed->name;
  return "bad signature by " + parsed->name;
}

Result<PublicKey> write_key_pair(const std::string& name, const std::string& secret_path,
                                 const std::string& public_path) {
  if (fs::absolute(secret_path) == fs::absolute(public_path))
    return make_error("the secret and the public key cannot both be " + secret_path,
                      "give two different files");
  LB_ASSIGN(auto pair, generate_key(name));
  // Both checked before anything is written, so a refusal leaves nothing behind.
  for (const auto& path : {secret_path, public_path})
    if (fs::stat_path(path).exists)
      return make_error(path + " already exists",
                        "keygen never overwrites a key: remove it first or choose another file");
  LB_TRY(fs::write_file_new(secret_path, format_secret_key(pair.first) + "\n", 0600));
  if (auto st = fs::write_file_new(public_path, format_public_key(pair.second) + "\n", 0644);
      !st.ok()) {
    // A public file that appeared meanwhile: take back the secret key this call just made,
    // so that a failed keygen leaves no half of a pair.
    (void)fs::remove_all(secret_path);
    return st.error();
  }
  return pair.second;
}

}  // namespace lb::remote
