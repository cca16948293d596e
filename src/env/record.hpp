// RECORD files (PEP 376 / 427) as pip writes them, and the canonical (location-independent)
// form of per-env file content used for hashing.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lb::env {

/// One RECORD row: path relative to the site-packages dir, "sha256=<b64>" or "", size or "".
struct RecordRow {
  std::string path, hash, size;
};

/// pip's RECORD text: rows sorted (path, hash, size), csv-quoted when needed, CRLF endings.
std::string render_record(std::vector<RecordRow> rows);
/// The same rows rendered in the given order.
std::string render_record_rows(const std::vector<RecordRow>& rows);
/// Parse RECORD csv text (tolerates LF or CRLF, quoted fields).
std::vector<RecordRow> parse_record(std::string_view text);

/// Lexically normalise a '/'-separated relative path ("a/./b/../c" -> "a/c"); "" if it
/// escapes its root.
std::string normalize_rel(std::string_view path);
/// `to` relative to directory `from_dir` (both relative to the same root):
/// ("lib/python3.11/site-packages", "bin/foo") -> "../../../bin/foo".
std::string relative_path(std::string_view from_dir, std::string_view to);

/// Canonical content of a per-env file: the env's final path replaced by "${LAVABUILD_ENV}";
/// in bin/activate* scripts also the venv prompt (derived from the env's directory name)
/// replaced by "${LAVABUILD_ENV_NAME}". Two envs at different paths get equal canonical content.
std::string canonical_content(std::string_view rel_path, std::string_view content,
                              std::string_view final_dir);

/// Canonical RECORD: rows whose file (lib_dir + "/" + row path) is per-env get the hash and
/// size of that file's canonical content from `lookup` (nullopt = keep the row), rendered
/// in the original order.
using CanonicalLookup =
    std::function<std::optional<std::pair<std::string, uint64_t>>(const std::string& env_rel)>;
std::string canonical_record(std::string_view record_text, const std::string& lib_dir,
                             const CanonicalLookup& lookup);

}  // namespace lb::env
