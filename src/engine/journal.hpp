// In-place changes of an env, journalled so that a killed run is finished by the next one.
//
// A run that changes a few distributions of an existing env does not rebuild it: it installs
// the new and changed distributions into a staging directory beside the env (an OwnedDir,
// same filesystem), then writes the journal, then applies it: deletes the files of removed
// and replaced distributions, renames the staged files into the env (a rename onto a hard
// link of the same blob does nothing; the staged copy goes with the staging dir) and the new
// manifest last. The caller then writes the directory list and the stamp (env_state.hpp).
// Until the journal exists the env is untouched (a failure leaves it as it was); once it
// exists, the change is decided and every later run finishes it first (roll forward:
// applying is idempotent, deletes and moves never name the same path); the old stamp left
// by a killed run then no longer matches the env's directories, so that run's inputs are
// built again (cheaply: what is in place stays). If the staging directory is gone by then,
// the env's stamp is removed so the next run rebuilds the env from the store.
//
// Persistent format "lavabuild.journal.v1" at <env>/.lavabuild/journal (written atomically):
//   lavabuild.journal.v1
//   staging <absolute path of the staging directory>
//   keep <path relative to the env>        (zero or more; never removed when emptied)
//   delete <path relative to the env>      (zero or more)
//   move <path relative to the env>        (zero or more; staging/<path> -> env/<path>; a
//                                           directory moves whole: see plan_moves)
// Paths never contain a newline, never start with '/' and have no "." or ".." component.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "util/result.hpp"

namespace lb::engine {

inline constexpr const char* kJournalFormat = "lavabuild.journal.v1";
inline constexpr const char* kJournalRel = ".lavabuild/journal";

struct Journal {
  std::string staging;
  std::vector<std::string> deletes;  ///< applied first
  std::vector<std::string> moves;    ///< in order; the manifest last
  /// Directories that must not be removed when they become empty (the venv's own layout).
  std::vector<std::string> keep_dirs;
};

std::string render_journal(const Journal& j);
/// Errors name the journal file and what is malformed.
Result<Journal> parse_journal(const std::string& text, const std::string& where);

/// The moves for `files` (paths relative to the env, each staged under `staging`): a
/// directory the env does not have moves in one rename when every file staged under it is
/// one of `files` (a newly added package: one rename, not one per file); every other file
/// moves alone. `files` sorted (a std::set's order), the moves in the same order.
std::vector<std::string> plan_moves(const std::string& env_dir, const std::string& staging,
                                    const std::vector<std::string>& files);

/// Write the journal into `env_dir`, then apply it, then remove it and the staging dir.
Status commit_journal(const std::string& env_dir, const Journal& j);

/// When `env_dir` has a journal (a run was killed while changing it), finish that change.
/// Returns a line for the user ("finished an interrupted change of ENV"), or "" when there
/// was nothing to do.
Result<std::string> recover_journal(const std::string& env_dir);

}  // namespace lb::engine
