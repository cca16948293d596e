// Installing unpacked wheels into a venv (PEP 427) by linking files from the store.
#pragma once

#include <string>

#include "env/bytecode.hpp"
#include "env/types.hpp"
#include "interp/interpreter.hpp"
#include "util/result.hpp"
#include "wheel/wheel.hpp"

namespace lb::env {

/// Where stored blobs live (the store implements it).
class BlobSource {
 public:
  virtual ~BlobSource() = default;
  /// Path of the stored (read-only) file with this content.
  virtual std::string blob_path(const std::string& sha256, bool executable) const = 0;
};

/// PEP 610 origin of a direct-URL install. Empty url = installed from an index (no file).
struct DirectUrl {
  std::string url;
  std::string sha256;                              ///< archive hash, hex (archive installs)
  bool is_dir = false;                             ///< a local directory ("dir_info")
  bool editable = false;                           ///< dir_info.editable
  std::string vcs, commit_id, requested_revision;  ///< "git"/"bzr"... ("vcs_info")
  std::string subdirectory;
};

/// direct_url.json text exactly as pip writes it (json.dumps(..., sort_keys=True)).
std::string direct_url_json(const DirectUrl& url);

/// Install one unpacked wheel into the env at `dir` whose final path is `final_dir`:
/// root files to purelib/platlib (Root-Is-Purelib), `<name>.data/<key>/` to the scheme paths
/// (headers to include/site/pythonX.Y/<name>/), `#!python` scripts rewritten to
/// `#!<final_dir>/bin/python` (per-env, 0755), every other file hard-linked / cloned / copied
/// from `blobs` per `mode` (copy fallback noted in `report`), console and GUI entry-point
/// scripts, then a fresh RECORD (pip's format), INSTALLER ("lavabuild"), REQUESTED when
/// `requested`, direct_url.json when `direct.url` is set. Never overwrites a file: a path
/// already present is an error naming the dist that owns it.
/// With `bytecode`, each member linked from the store that has a compiled pyc gets it at
/// `__pycache__/<name>.<cache_tag>.pyc` beside it, linked the same way and listed in RECORD
/// without hash or size (as pip lists the pycs it compiles); a wheel's own file at such a
/// path is left out (pip's compileall overwrites it).
Result<InstalledDist> install_wheel(const std::string& dir, const std::string& final_dir,
                                    const interp::Interpreter& interp,
                                    const wheel::UnpackedWheel& wheel, const BlobSource& blobs,
                                    LinkMode mode, bool requested, const DirectUrl& direct,
                                    LinkReport& report, const Bytecode* bytecode = nullptr);

/// Re-use a dist already installed in an old env with the same final path: hard-link each of
/// its files from `old_dir` into `dir` (copy where links are impossible).
Status relink_dist(const std::string& old_dir, const std::string& dir, const InstalledDist& dist,
                   LinkReport& report);

}  // namespace lb::env
