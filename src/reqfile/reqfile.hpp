// pip's requirements-file format (pip.pypa.io/en/stable/reference/requirements-file-format):
// decoding, `\` continuations, comments, ${VAR} expansion, -r/-c includes, file options and
// per-requirement options. Produces entries (what to install or constrain) and index options.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pep/requirement.hpp"
#include "util/result.hpp"

namespace lb::reqfile {

/// How deeply -r/-c includes may nest (a longer chain is an error naming the line and the
/// chain; docs/LIMITS.md). Deep recursion would otherwise exhaust the stack.
inline constexpr size_t kMaxIncludeDepth = 100;

/// Where a logical line starts: the file as named (joined onto its includer's directory) and
/// the 1-based number of its first physical line.
struct Location {
  std::string file;
  int line = 0;
  /// "file:line".
  std::string to_string() const;
};

/// What a requirement line names: a PEP 508 requirement; an archive or directory by URL
/// (also "name @ url") or by local path; a VCS URL; an `-e` editable (local dir or VCS URL).
enum class EntryKind { named, url, path, vcs, editable };

/// One requirement or constraint line.
struct Entry {
  EntryKind kind = EntryKind::named;
  Location loc;
  /// The logical line as written (after joining continuations and removing comments).
  std::string text;
  /// named: parsed. url/path/vcs/editable: name from "name @ url", `#egg=`, or a wheel
  /// filename (then also "==version"); empty when unknown. Extras and markers as written.
  pep::Requirement req;
  /// url/vcs: the URL as written (`@rev`, `#egg=`, `#subdirectory=` kept); path and local
  /// editable: absolute, normalised path (relative paths resolve against the CWD, as pip does).
  std::string link;
  /// "<algo>:<hex>" lower-cased, algo one of sha256/sha384/sha512, from `--hash` options and
  /// from a `#sha256=` fragment on a URL.
  std::vector<std::string> hashes;
  /// `--config-settings KEY=VALUE` pairs, in order.
  std::vector<std::pair<std::string, std::string>> config_settings;
  /// True when the line came from a `-c` file.
  bool constraint = false;
};

/// Finder / install options set by option lines, accumulated over every file read.
struct Options {
  std::optional<std::string> index_url;       // last -i/--index-url wins
  std::vector<std::string> extra_index_urls;  // accumulated, duplicates dropped
  bool no_index = false;
  /// Accumulated; a relative value naming an existing path next to the requirements file is
  /// made relative to that file (pip does this), otherwise kept as written (URLs as-is).
  std::vector<std::string> find_links;
  /// Normalised names or ":all:"; --no-binary and --only-binary exclude each other per name,
  /// ":none:" clears, as pip's handle_mutual_excludes.
  std::vector<std::string> no_binary, only_binary;
  bool prefer_binary = false;
  bool require_hashes = false;
  bool pre = false;
  std::vector<std::string> trusted_hosts;
};

/// A warning tied to a line (the run goes on).
struct Diagnostic {
  Location loc;
  std::string message;
};

/// Everything read from a set of requirements files.
struct Parsed {
  std::vector<Entry> requirements;  // in file order, includes expanded in place
  std::vector<Entry> constraints;   // from -c files; named requirements only
  Options options;
  std::vector<Diagnostic> warnings;
  std::vector<std::string> files_read;  // absolute paths, first-read order, each once
  /// require_hashes, or any requirement or constraint carries a hash.
  bool hash_checking() const;
};

/// Reads an environment variable; nullopt when unset.
using Getenv = std::function<std::optional<std::string>(const std::string&)>;

/// Parse files as given on the command line (each like `-r FILE`, relative to the CWD).
/// Follows -r/-c recursively relative to the including file; a URL include is an error
/// naming file:line; an include cycle is an error. A missing file is
/// "cannot open requirements file X (included from Y:3)".
Result<Parsed> parse_files(const std::vector<std::string>& paths, const Getenv& getenv);
/// Same, plus constraint files given on the command line (each like `-c FILE`).
Result<Parsed> parse_files(const std::vector<std::string>& paths,
                           const std::vector<std::string>& constraint_paths, const Getenv& getenv);

/// Parse one file's text (tests, fuzzing); includes resolve relative to dirname(filename).
Result<Parsed> parse_text(std::string_view text, const std::string& filename, const Getenv& getenv);

/// Validate hash-checking mode as pip does: every requirement pinned with == or === (or a
/// URL/path to a file) and carrying at least one hash (its own or from a constraint of the
/// same name); editables, VCS URLs and directories cannot be hashed. The error lists every
/// offending file:line.
Status check_hash_mode(const Parsed& parsed);

}  // namespace lb::reqfile
