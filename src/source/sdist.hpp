// Source distributions and source archives: unpacking hostile archives safely, and the PKG-INFO
// an sdist carries (PEP 643: when its dependencies can be trusted without a build).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"
#include "wheel/metadata.hpp"

namespace lb::source {

/// Bounds on what unpacking one archive may produce, documented in docs/LIMITS.md. The sizes
/// and the ratio are the wheel reader's (wheel::WheelLimits, the same variables).
struct ArchiveLimits {
  /// Members of any kind (fixed: the largest sdists on PyPI hold a few ten thousand).
  uint64_t max_members = 200'000;
  /// Uncompressed bytes per member (LAVABUILD_MAX_MEMBER_SIZE; 0: none).
  uint64_t max_member_size = uint64_t(2) << 30;
  /// Uncompressed bytes in all (LAVABUILD_MAX_WHEEL_SIZE; 0: none).
  uint64_t max_total_size = uint64_t(8) << 30;
  /// Bytes written : bytes of the archive, checked as data is written
  /// (LAVABUILD_MAX_COMPRESSION_RATIO; 0: none) ...
  uint64_t max_ratio = 100;
  /// ... once more than this much has been written.
  uint64_t ratio_floor = uint64_t(16) << 20;
  /// Directory depth of a member path (the same as TreeLimits::max_depth, so that every
  /// unpacked tree can be digested and copied).
  unsigned max_depth = 128;
  /// The defaults, with the wheel reader's variables applied (a malformed value is an error
  /// naming the variable).
  static Result<ArchiveLimits> from_env();
};

/// Unpack an sdist or source archive (.tar.gz, .tgz, .tar.bz2, .tar.xz, .tar, .zip: the format
/// and compression are recognised from the bytes, any other is an error) into `dest`, which
/// must not exist (it is created, with missing parents). Hostile input is refused before it
/// can write outside `dest`: absolute member paths, "..", control characters in names, a
/// member whose path goes through a symlink member, symlinks leading out of the tree
/// (detail::symlink_escape), hard links to anything but an earlier regular file member,
/// devices, FIFOs and sockets, sparse members, and the limits above. Files are written as pip
/// writes them: mode 0644, or 0755 when the member has any execute bit; mtimes from the
/// archive. A member path met twice replaces the earlier file (tar's rule) but never changes
/// its kind. On error `dest` is removed and the message names the archive and the member.
/// Returns the top directory when every member lies under one directory (pip's rule for
/// "name-version/"), else `dest`.
Result<std::string> unpack_archive(const std::string& archive, const std::string& dest);
Result<std::string> unpack_archive(const std::string& archive, const std::string& dest,
                                   const ArchiveLimits& limits);
/// The same from memory (tests, the fuzz target); `label` names the archive in errors.
Result<std::string> unpack_archive_bytes(std::string_view bytes, const std::string& label,
                                         const std::string& dest);
Result<std::string> unpack_archive_bytes(std::string_view bytes, const std::string& label,
                                         const std::string& dest, const ArchiveLimits& limits);

/// An sdist's PKG-INFO.
struct SdistMetadata {
  wheel::CoreMetadata core;
  std::vector<std::string> dynamic;  ///< PEP 643 `Dynamic:` fields, lower-cased, in file order
  /// PEP 643: Metadata-Version >= 2.2 and "requires-dist" not dynamic: Requires-Dist (present
  /// or absent) is what a build would produce, so the resolver can trust it without a build.
  bool static_requires() const;
};

/// Parse PKG-INFO text (core metadata); `label` names it in errors ("foo-1.0.tar.gz: PKG-INFO").
Result<SdistMetadata> parse_pkg_info(std::string_view text, const std::string& label);
/// `tree`/PKG-INFO (a regular file of at most 64 MiB); nullopt when there is none.
Result<std::optional<SdistMetadata>> read_pkg_info(const std::string& tree);

}  // namespace lb::source
