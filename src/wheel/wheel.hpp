// Reading and validating wheels (PEP 427, the binary distribution format).
//
// Persistent format "lavabuild.unpacked.v1" (serialize_unpacked / deserialize_unpacked): the
// unpack step's output manifest, kept in the store. One JSON object, keys in this order:
//   {"format": "lavabuild.unpacked.v1",
//    "dist_info": "pkg-1.0.dist-info", "data_dir": "pkg-1.0.data",
//    "root_is_purelib": true, "wheel_version": "1.0",
//    "metadata": {"metadata_version": "", "name": "", "version": "", "requires_python": "",
//                 "requires_dist": [""], "provides_extra": [""], "summary": ""},
//    "entry_points": {"console_scripts": [{"name": "", "module": "", "attr": ""}],
//                     "gui_scripts": [...]},
//    "members": [{"path": "pkg/__init__.py", "sha256": "<hex>", "size": 12,
//                 "executable": false}]}          // archive order
// A reader must reject any other "format" value; a change of meaning bumps the version.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"
#include "wheel/metadata.hpp"

namespace lb::wheel {

/// Where unpacked bytes go: the store implements it. Returns the blob's sha256 hex.
class BlobSink {
 public:
  virtual ~BlobSink() = default;
  virtual Result<std::string> put_blob(std::string_view content, bool executable) = 0;
  /// Like put_blob, but the caller has already computed `sha256_hex` of `content` (unpacking
  /// hashes each member once, to check RECORD). A sink may trust it and skip re-hashing; it
  /// must return the same hex. The default forwards to put_blob.
  virtual Result<std::string> put_blob_hashed(std::string_view content, bool executable,
                                              const std::string& sha256_hex) {
    (void)sha256_hex;
    return put_blob(content, executable);
  }
};

/// One regular file of a wheel.
struct WheelMember {
  std::string path;    // path inside the wheel, '/'-separated, validated
  std::string sha256;  // hex of content
  uint64_t size = 0;
  bool executable = false;  // from zip external attributes (any x bit)
};

/// What unpacking a wheel produced.
struct UnpackedWheel {
  std::string dist_info;  // "<name>-<ver>.dist-info"
  std::string data_dir;   // "<name>-<ver>.data" (may not exist)
  bool root_is_purelib = true;
  std::string wheel_version;
  CoreMetadata metadata;
  EntryPoints entry_points;
  std::vector<WheelMember> members;   // every file except RECORD signatures; RECORD included
  std::vector<std::string> warnings;  // e.g. a newer minor Wheel-Version; not serialised
};

/// Limits on what unpacking one wheel may produce (zip bombs), checked against the central
/// directory before anything is decompressed or stored. Documented in docs/LIMITS.md.
struct WheelLimits {
  /// Uncompressed bytes per member (LAVABUILD_MAX_MEMBER_SIZE). A member is held in memory
  /// while it is hashed and stored, so this also bounds memory.
  uint64_t max_member_size = uint64_t(2) << 30;
  /// Uncompressed bytes of the whole wheel (LAVABUILD_MAX_WHEEL_SIZE).
  uint64_t max_wheel_size = uint64_t(8) << 30;
  /// Uncompressed : compressed, per member and for the whole wheel
  /// (LAVABUILD_MAX_COMPRESSION_RATIO) ...
  uint64_t max_ratio = 100;
  /// ... applied only above this many uncompressed bytes (small files compress well).
  uint64_t ratio_floor = uint64_t(16) << 20;
  /// The defaults, overridden by the variables above (bytes, or a number with K, M or G,
  /// binary; 0 = no limit). A malformed value is an error naming the variable.
  static Result<WheelLimits> from_env();
};

/// Read a wheel: validate (no "..", absolute paths, backslashes, drive letters, symlinks,
/// duplicate members, FIFOs/devices/sockets, names that are not UTF-8, exactly one top-level
/// .dist-info matching the file name, Wheel-Version major 1, every file listed in RECORD with
/// matching sha256 and size, no unlisted files except RECORD/RECORD.jws/RECORD.p7s, no RECORD rows
/// missing from the archive, size limits), then store each member through `sink` (nothing reaches
/// the sink before its hash is checked). Errors name the wheel and the member. The wheel's name and
/// version come from the basename of `wheel_path`, which must be a PEP 427 file name.
Result<UnpackedWheel> unpack_wheel(const std::string& wheel_path, BlobSink& sink);
/// Same, when the file on disk is not named after the wheel (e.g. a cached download):
/// `wheel_filename` is the PEP 427 file name, used for validation and in errors.
Result<UnpackedWheel> unpack_wheel(const std::string& wheel_path, const std::string& wheel_filename,
                                   BlobSink& sink);
/// Same, from bytes in memory (tests, fuzzing).
Result<UnpackedWheel> unpack_wheel_from_memory(std::string_view bytes,
                                               const std::string& wheel_filename, BlobSink& sink);
/// Same, with explicit limits instead of WheelLimits::from_env().
Result<UnpackedWheel> unpack_wheel_from_memory(std::string_view bytes,
                                               const std::string& wheel_filename, BlobSink& sink,
                                               const WheelLimits& limits);

/// Read only `<dist-info>/METADATA` (for the resolver); stops at the first top-level
/// `*.dist-info/METADATA` (whose project name matches the file name when the basename of
/// `wheel_path` is a wheel file name).
Result<std::string> read_wheel_metadata(const std::string& wheel_path);

inline constexpr size_t kMaxMemberPath = 4096;  ///< bytes of a member path (PATH_MAX)
inline constexpr size_t kMaxMemberName = 255;   ///< bytes of one component (NAME_MAX)
inline constexpr size_t kMaxMemberDepth = 128;  ///< components of a member path
/// OK when `path` is a safe relative member path: '/'-separated, no empty, "." or ".."
/// components, not absolute, no backslash, no drive letter, no NUL or control characters,
/// within kMaxMemberPath, kMaxMemberName and kMaxMemberDepth.
/// A trailing '/' (directory entry) is allowed when `allow_dir`.
Status check_member_path(std::string_view path, bool allow_dir = false);

/// Serialise / parse an UnpackedWheel (format "lavabuild.unpacked.v1", see the top of this file).
std::string serialize_unpacked(const UnpackedWheel&);
Result<UnpackedWheel> deserialize_unpacked(std::string_view);

}  // namespace lb::wheel
