// The REAPI ActionResult in protobuf wire format, written and read by hand (see the header for
// the fields). Reading is strict because the bytes come from a remote nobody authenticates:
// every length is checked against what is left, every count and size against a limit, and an
// error says which field is wrong and where.
#include "remote/action_result.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lb::remote {
namespace {

// The limits of the header: no lavabuild entry comes near them, and they bound what a hostile
// server can make a reader allocate (on top of the HTTP body limit).
constexpr size_t kMaxOutputFiles = 1'000'000;
constexpr size_t kMaxPathBytes = 4096;
// Unknown fields may be (deprecated) groups, which nest: protobuf's own parsers stop at a
// recursion depth of 100; 32 is more than any REAPI message uses and keeps the stack small.
constexpr int kMaxGroupDepth = 32;
// The largest field number protobuf allows (2^29 - 1).
constexpr uint64_t kMaxFieldNumber = (uint64_t(1) << 29) - 1;

// Wire types (protobuf encoding spec).
enum WireType : uint32_t { kVarint = 0, kI64 = 1, kLen = 2, kSGroup = 3, kEGroup = 4, kI32 = 5 };

// Field numbers of the messages we read and write (remote_execution.proto).
constexpr uint32_t kResultOutputFiles = 2;  // ActionResult.output_files
constexpr uint32_t kResultExitCode = 4;     // ActionResult.exit_code
constexpr uint32_t kFilePath = 1;           // OutputFile.path
constexpr uint32_t kFileDigest = 2;         // OutputFile.digest
constexpr uint32_t kFileExecutable = 4;     // OutputFile.is_executable
constexpr uint32_t kDigestHash = 1;         // Digest.hash
constexpr uint32_t kDigestSize = 2;         // Digest.size_bytes

// --- writing -------------------------------------------------------------------------------

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += char((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += char(v);
}

void put_tag(std::string& out, uint32_t field, WireType type) {
  put_varint(out, (uint64_t(field) << 3) | type);
}

void put_bytes(std::string& out, uint32_t field, std::string_view bytes) {
  put_tag(out, field, kLen);
  put_varint(out, bytes.size());
  out += bytes;
}

// Proto3 leaves fields at their default (0, false, "") out; so do we, as a protobuf
// serializer (and bazel-remote re-serializing our entry) would: one message, one encoding.
std::string encode_digest(const Digest& d) {
  std::string out;
  if (!d.hash.empty()) put_bytes(out, kDigestHash, d.hash);
  if (d.size != 0) {
    put_tag(out, kDigestSize, kVarint);
    put_varint(out, uint64_t(d.size));  // int64: two's complement, as protobuf does
  }
  return out;
}

std::string encode_file(const OutputFile& f) {
  std::string out;
  if (!f.path.empty()) put_bytes(out, kFilePath, f.path);
  // A message field is written even when empty: an OutputFile always has a digest.
  put_bytes(out, kFileDigest, encode_digest(f.digest));
  if (f.executable) {
    put_tag(out, kFileExecutable, kVarint);
    put_varint(out, 1);
  }
  return out;
}

// --- reading -------------------------------------------------------------------------------

// A cursor over one message's bytes. `where` names the message in errors ("output_files[3]
// digest"), `base` is its offset in the whole input, so errors give absolute byte offsets.
struct Reader {
  std::string_view data;
  size_t pos = 0;
  size_t base = 0;
  std::string where;

  bool done() const { return pos >= data.size(); }

  Error fail(const std::string& what) const {
    return make_error("malformed ActionResult: " + where + ": " + what + " (at byte " +
                      std::to_string(base + pos) + ")");
  }

  // A base-128 varint of at most 10 bytes whose value fits 64 bits.
  Result<uint64_t> varint() {
    uint64_t v = 0;
    for (int i = 0; i < 10; ++i) {
      if (pos >= data.size()) return fail("truncated varint");
      auto byte = uint8_t(data[pos++]);
      if (i == 9 && byte > 1) return fail("varint longer than 64 bits");
      v |= uint64_t(byte & 0x7f) << (7 * i);
      if (!(byte & 0x80)) return v;
    }
    return fail("varint longer than 10 bytes");
  }

  // The bytes of a length-delimited field (its length already checked against the input).
  Result<std::string_view> bytes() {
    LB_ASSIGN(uint64_t len, varint());
    if (len > data.size() - pos)
      return fail("length " + std::to_string(len) + " runs past the end of the message (" +
                  std::to_string(data.size() - pos) + " bytes left)");
    std::string_view out = data.substr(pos, size_t(len));
    pos += size_t(len);
    return out;
  }

  Status skip(size_t n, const char* what) {
    if (n > data.size() - pos) return fail(std::string("truncated ") + what);
    pos += n;
    return {};
  }
};

struct Tag {
  uint32_t field = 0;
  uint32_t type = 0;
};

Result<Tag> read_tag(Reader& r) {
  LB_ASSIGN(uint64_t key, r.varint());
  uint64_t field = key >> 3;
  auto type = uint32_t(key & 7);
  if (field == 0 || field > kMaxFieldNumber)
    return r.fail("field number " + std::to_string(field) + " is out of range");
  if (type > kI32) return r.fail("unknown wire type " + std::to_string(type));
  return Tag{uint32_t(field), type};
}

// Skip the value of a field we do not know, of any wire type. A group runs to the END_GROUP of
// the same field number, skipping what it holds (groups in groups up to kMaxGroupDepth).
Status skip_field(Reader& r, Tag tag, int depth = 0) {
  switch (tag.type) {
    case kVarint: {
      auto v = r.varint();
      return v.ok() ? Status{} : Status(v.error());
    }
    case kI64:
      return r.skip(8, "fixed64 field");
    case kI32:
      return r.skip(4, "fixed32 field");
    case kLen: {
      auto b = r.bytes();
      return b.ok() ? Status{} : Status(b.error());
    }
    case kSGroup: {
      if (depth >= kMaxGroupDepth)
        return r.fail("groups nested deeper than " + std::to_string(kMaxGroupDepth));
      while (true) {
        if (r.done()) return r.fail("group " + std::to_string(tag.field) + " is not closed");
        LB_ASSIGN(Tag inner, read_tag(r));
        if (inner.type == kEGroup) {
          if (inner.field != tag.field)
            return r.fail("group " + std::to_string(tag.field) + " closed as group " +
                          std::to_string(inner.field));
          return {};
        }
        LB_TRY(skip_field(r, inner, depth + 1));
      }
    }
    default:  // kEGroup with no group open
      return r.fail("end of group " + std::to_string(tag.field) + " with no group open");
  }
}

Status want_type(const Reader& r, Tag tag, WireType want, const char* name) {
  if (tag.type == want) return {};
  return r.fail(std::string("field ") + name + " has wire type " + std::to_string(tag.type) +
                ", not " + std::to_string(want));
}

bool is_lower_hex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// Protobuf merges repeated occurrences of a singular field; a serializer never writes them,
// so a message holding one is not ours: refused rather than guessed at.
Status once(const Reader& r, bool& seen, const char* name) {
  if (seen) return r.fail(std::string("field ") + name + " appears twice");
  seen = true;
  return {};
}

Result<Digest> decode_digest(std::string_view bytes, size_t base, const std::string& where) {
  Reader r{bytes, 0, base, where};
  Digest d;
  bool seen_hash = false, seen_size = false;
  while (!r.done()) {
    LB_ASSIGN(Tag tag, read_tag(r));
    if (tag.field == kDigestHash) {
      LB_TRY(want_type(r, tag, kLen, "hash"));
      LB_TRY(once(r, seen_hash, "hash"));
      LB_ASSIGN(std::string_view h, r.bytes());
      if (!is_lower_hex64(h)) return r.fail("hash is not 64 lowercase hex digits");
      d.hash = std::string(h);
    } else if (tag.field == kDigestSize) {
      LB_TRY(want_type(r, tag, kVarint, "size_bytes"));
      LB_TRY(once(r, seen_size, "size_bytes"));
      LB_ASSIGN(uint64_t v, r.varint());
      if (int64_t(v) < 0) return r.fail("size_bytes is negative");
      d.size = int64_t(v);
    } else {
      LB_TRY(skip_field(r, tag));
    }
  }
  if (!seen_hash) return r.fail("no hash");
  return d;
}

Result<OutputFile> decode_file(std::string_view bytes, size_t base, const std::string& where) {
  Reader r{bytes, 0, base, where};
  OutputFile f;
  bool seen_path = false, seen_digest = false, seen_exec = false;
  while (!r.done()) {
    LB_ASSIGN(Tag tag, read_tag(r));
    if (tag.field == kFilePath) {
      LB_TRY(want_type(r, tag, kLen, "path"));
      LB_TRY(once(r, seen_path, "path"));
      LB_ASSIGN(std::string_view p, r.bytes());
      if (p.size() > kMaxPathBytes)
        return r.fail("path of " + std::to_string(p.size()) + " bytes (the limit is " +
                      std::to_string(kMaxPathBytes) + ")");
      f.path = std::string(p);
    } else if (tag.field == kFileDigest) {
      LB_TRY(want_type(r, tag, kLen, "digest"));
      LB_TRY(once(r, seen_digest, "digest"));
      LB_ASSIGN(std::string_view d, r.bytes());
      // The digest's bytes end where the cursor is now: offsets in errors stay absolute.
      LB_ASSIGN(f.digest, decode_digest(d, r.base + r.pos - d.size(), where + " digest"));
    } else if (tag.field == kFileExecutable) {
      LB_TRY(want_type(r, tag, kVarint, "is_executable"));
      LB_TRY(once(r, seen_exec, "is_executable"));
      LB_ASSIGN(uint64_t v, r.varint());
      f.executable = v != 0;  // protobuf's bool: any non-zero varint is true
    } else {
      LB_TRY(skip_field(r, tag));
    }
  }
  if (f.path.empty()) return r.fail("no path");
  if (!seen_digest) return r.fail("no digest");
  return f;
}

}  // namespace

std::string encode_action_result(const ActionEntry& entry) {
  std::string out;
  for (const OutputFile& f : entry.files) put_bytes(out, kResultOutputFiles, encode_file(f));
  // exit_code (4) is 0, proto3's default: not written.
  return out;
}

Result<ActionEntry> decode_action_result(std::string_view bytes) {
  Reader r{bytes, 0, 0, "ActionResult"};
  ActionEntry entry;
  bool seen_exit = false;
  while (!r.done()) {
    LB_ASSIGN(Tag tag, read_tag(r));
    if (tag.field == kResultOutputFiles) {
      LB_TRY(want_type(r, tag, kLen, "output_files"));
      if (entry.files.size() >= kMaxOutputFiles)
        return r.fail("more than " + std::to_string(kMaxOutputFiles) + " output files");
      LB_ASSIGN(std::string_view f, r.bytes());
      std::string where = "output_files[" + std::to_string(entry.files.size()) + "]";
      LB_ASSIGN(OutputFile file, decode_file(f, r.pos - f.size(), where));
      entry.files.push_back(std::move(file));
    } else if (tag.field == kResultExitCode) {
      LB_TRY(want_type(r, tag, kVarint, "exit_code"));
      LB_TRY(once(r, seen_exit, "exit_code"));
      LB_ASSIGN(uint64_t v, r.varint());
      // int32 on the wire: negative values are sign-extended to 64 bits.
      auto code = int64_t(v);
      if (code != 0)
        return r.fail("exit_code is " + std::to_string(code) +
                      ": lavabuild stores only successful steps");
    } else {
      LB_TRY(skip_field(r, tag));
    }
  }
  return entry;
}

}  // namespace lb::remote
