// Applying a unified diff to a build's private copy of a source tree, with GNU patch.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"

namespace lb::source {

/// OK when every file name the patch gives (`---`, `+++`, `***` headers, `Index:`, `diff --git`,
/// git's `rename`/`copy` `from`/`to`; quoted names unquoted) is relative and has no ".."
/// component; `/dev/null` (a created or deleted file) is allowed. Lines inside unified hunks
/// are content, not names. The error names the patch line: "line 3: '../x' is outside the tree".
Status check_patch_paths(std::string_view patch_text);

/// Apply the unified diff `patch_file` to `tree` with `patch -p1` semantics: the file names
/// are checked first (check_patch_paths), then GNU patch runs twice, as
///   patch --dry-run -p1 -N --batch --no-backup-if-mismatch --reject-file=-
///         --quoting-style=literal -d TREE -i FILE
/// and, when every hunk applies, again without --dry-run (LC_ALL=C; no backup or reject files
/// are left in the tree; a patch that is already applied is a failure). `label` says whose
/// patch it is ("recipe recipes/app.toml, patch fix.patch"): every error starts with it. A
/// failure names each hunk that failed with its file ("src/app.py: Hunk #2 FAILED at 14."),
/// with the hint to refresh the patch. GNU patch's default fuzz (2) applies: a hunk whose
/// context changed upstream may still apply; each such hunk is added to `warnings` (when
/// given) as "src/app.py: Hunk #2 succeeded at 15 with fuzz 1.", for the caller to show.
Status apply_patch(const std::string& tree, const std::string& patch_file, const std::string& label,
                   std::vector<std::string>* warnings = nullptr);

}  // namespace lb::source
