// Value types shared by venv creation, wheel installation and the env manifest.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lb::env {

/// How stored files are placed into an env.
enum class LinkMode { hardlink, clone, copy };

/// Parse "hardlink" / "clone" / "copy"; false when the text is none of them.
bool parse_link_mode(const std::string& text, LinkMode& out);
const char* link_mode_name(LinkMode mode);

/// st_mode-style values recorded in FileEntry::mode.
inline constexpr uint32_t kModeFile = 0100644;
inline constexpr uint32_t kModeExec = 0100755;
inline constexpr uint32_t kModeSymlink = 0120777;

/// The placeholder that replaces the env's final path when per-env content is hashed.
inline constexpr const char* kEnvPlaceholder = "${LAVABUILD_ENV}";

/// One file (or symlink) of an env.
struct FileEntry {
  std::string path;           ///< relative to the env root, '/'-separated
  uint32_t mode = kModeFile;  ///< kModeFile, kModeExec or kModeSymlink
  std::string sha256;    ///< content hex digest (per-env files: of the canonical content; symlinks:
                         ///< of the target)
  uint64_t size = 0;     ///< content size (per-env: canonical content; symlinks: target length)
  bool per_env = false;  ///< written fresh; its content depends on the env location
  std::string link_target;  ///< symlinks only
  bool operator==(const FileEntry&) const = default;
};

/// One installed distribution and the files it owns.
struct InstalledDist {
  std::string name, version;
  std::string dist_info_rel;     ///< e.g. "lib/python3.11/site-packages/foo-1.0.dist-info"
  std::string link_key;          ///< opaque, set by the caller (the link step key)
  std::string bytecode_tag;      ///< cache tag of the pycs lavabuild compiled; "" for none
  std::vector<FileEntry> files;  ///< sorted by path
  /// dist_digest of `files` (env/manifest.hpp); "" when not computed yet.
  std::string digest;
  /// The manifest's JSON text of `files`, kept by read_manifest(dir, lazy_files = true):
  /// `files` stays empty until load_files parses it; the text is kept (it is what put_files
  /// gives for those files), and a manifest written from this dist copies it verbatim. Code
  /// that changes `files` of a dist read this way clears it.
  std::string files_json;
};

/// What happened while placing files: how many were linked vs copied, and whether linking
/// failed (cross-device, unsupported) so that copies were made instead.
struct LinkReport {
  size_t linked = 0, copied = 0;
  bool fell_back_to_copy = false;
  std::string fallback_reason;  ///< the first failure, set once
};

}  // namespace lb::env
