// Building distributions from source: sdists (index, find-links, URL, path), local
// directories, local archives, VCS checkouts and editables, through PEP 517 hooks
// (build/hooks.hpp) run in an isolated build env that this engine itself makes, caches and
// shares (`<cache>/build-envs/<digest>`, an ordinary lavabuild env of the build requirements).
//
// A build step's key ("lavabuild.build.v1", KeyHasher fields in this order):
//   source      the content digest of what the build sees: a local tree's
//               source::digest_tree (VCS dirs and __pycache__ excluded), an archive's sha256,
//               a VCS commit id and subdirectory
//   build_env   the manifest digest of the build env the backend runs in (after
//               get_requires_for_build_*)
//   interpreter the interpreter key (path, version, stat: interp/interpreter.hpp)
//   hook        "wheel" or "editable"
//   config      each --config-settings KEY=VALUE, in order
//   env         each build-relevant environment variable that is set (kBuildEnvVars, the
//               SETUPTOOLS_* ones, those a recipe names): NAME=VALUE, sorted
//   recipe      the recipe's digest (its fields and every patch's content), or "none"
//
// Index keys owned here (values are text; the format line names the version):
//   "build/<build key>"    -> "lavabuild.built.v1\n<wheel sha256>\n<wheel file name>\n"
//   "buildreq/<key>"       -> "lavabuild.buildreq.v1\n" + one requirement per line: what
//                             get_requires_for_build_* answered; key "lavabuild.buildreq.v1"
//                             over source, base build env digest, interpreter, hook, config,
//                             env, recipe. For a local directory, "source" is the digest of its
//                             build configuration files alone (KeyHasher
//                             "lavabuild.build-config.v1" over pyproject.toml, setup.py and
//                             setup.cfg at its root): editing a module does not ask again. A
//                             backend deriving build requirements from other files is asked
//                             again only when one of those changes.
//   "srcstat/<sha256(tree path)[:32]>" -> the tree's whole stat cache, one value
//                             (lavabuild.statcache.v1, source::MemoryStatCache in source/tree.hpp)
//   "buildmeta/<build key>" -> the core metadata prepare_metadata_for_build_* gave (same key
//                             as the build)
//   "srcbuild/<location>"  -> JSON {"fields": {name: value}, "files": {path: sha256}}: the
//                             inputs of the last build from that location, so that `plan` and
//                             `-v` say which input changed ("source: app/views.py changed")
//
// Build logs: <cache>/logs/build-<name>-<key[:12]>.log (the whole backend output of the last
// build with that key; named in every failure message), requires-<key[:12]>.log and
// metadata-<key[:12]>.log for the get_requires_* and prepare_metadata_* hooks.
// Build envs: <cache>/build-envs/<digest>.txt (a requirements file: the run's index options and
// the build requirements, sorted) and <cache>/build-envs/<digest>/ (the env lavabuild makes
// from it, an ordinary env with its own env/ gc root); digest = the first 32 hex digits of
// KeyHasher "lavabuild.build-env.v1" over the interpreter key and that file's text. A build env
// is made from wheels only (no builds within builds), with bytecode (imports stay fast).
// In `gc`: build/, buildreq/, srcstat/ and srcbuild/ entries are small and left alone; a build/
// entry whose wheel was collected is a miss (the build runs again). Built wheels stay while an
// env or lock that uses them is live (their env/ roots name them).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "build/hook.hpp"
#include "engine/context.hpp"
#include "engine/fetch.hpp"
#include "util/result.hpp"

namespace lb::engine {

/// Environment variables that change what a build produces: part of every build key.
inline constexpr const char* kBuildEnvVars[] = {"CC",       "CXX",     "CFLAGS",   "CXXFLAGS",
                                                "CPPFLAGS", "LDFLAGS", "LDSHARED", "MAKEFLAGS",
                                                "AR",       "ARFLAGS", "CPP"};

/// Where a distribution's source comes from.
struct SourceRef {
  enum class Kind { directory, archive, vcs };
  Kind kind = Kind::directory;
  /// directory: absolute path; archive: the file's URL (file:// for local ones); vcs: the URL
  /// as written ("git+file:///srv/app@main#egg=app").
  std::string location;
  net::IndexFile archive;  ///< archive: the file to fetch
  std::string name;        ///< normalised project name when known before building; may be empty
  bool editable = false;
  std::vector<std::pair<std::string, std::string>> config_settings;
  std::string origin;  ///< "req.txt:3", "dependency", a lock
  /// Named by the user (it will be installed): when its metadata needs the backend, build the
  /// wheel at once rather than prepare_metadata_for_build_wheel first.
  bool build_for_metadata = false;
  /// archive: the hashes it must match ("sha256:hex", also sha384/sha512: --hash, a lock),
  /// checked before anything in it is read or run; empty: none asked for.
  std::vector<std::string> hashes;
  /// What identifies the source for memoisation within a run.
  std::string id() const;
};

/// The state of one source within a run, shared by the resolver (metadata) and the step
/// graph (the build step).
struct SourceBuild {
  SourceRef ref;
  std::string tree;  ///< a readable source tree (the directory itself, or a private unpack)
  std::string digest;
  int64_t date_epoch = 0;  ///< SOURCE_DATE_EPOCH for the build
  std::string vcs_kind, vcs_commit, vcs_requested, vcs_subdirectory, vcs_url;
  std::vector<std::string> build_requires;  ///< [build-system] requires (+ a recipe's)
  std::string backend;
  std::string recipe_digest = "none";
  std::vector<std::string> recipe_patches;
  std::string recipe_file;
  std::map<std::string, std::string> env;     ///< the variables in the key, and a recipe's
  std::string env_dir, env_digest;            ///< the build env the backend runs in, when known
  std::string key;                            ///< the build key; empty until known
  std::string reason;                         ///< why the build runs
  std::map<std::string, std::string> fields;  ///< the key's fields (for "which input changed")
  std::map<std::string, std::string> files;   ///< a local tree's files: path -> sha256
  std::string wheel_sha, wheel_filename;      ///< known once built or found built
  std::string metadata;                       ///< core metadata when known without a wheel
  std::string name, version;                  ///< from the metadata or the wheel
  bool built_while_resolving = false;
  bool built = false;           ///< this run ran the backend
  std::optional<Error> failed;  ///< preparing it failed: every later ask gets this error
  std::mutex mutex;
};

/// The environment variables of a build key that are set (kBuildEnvVars and SETUPTOOLS_*),
/// with `extra` (a recipe's) over them. The no-op stamp covers the same set.
std::map<std::string, std::string> build_env_vars(const std::map<std::string, std::string>& extra);

class SourceBuilder {
 public:
  SourceBuilder(Context& ctx, Fetcher& fetcher) : ctx_(ctx), fetcher_(fetcher) {}
  ~SourceBuilder();
  /// The state of `ref` (memoised): the source fetched or read, its digest, recipe and build
  /// system, its build env (made if needed: cache work, as a download is) and the build key
  /// (the backend's get_requires_for_build_* answer is asked once and kept). A build stored
  /// under that key gives the wheel. `plan` gets here too: it builds no wheel.
  Result<std::shared_ptr<SourceBuild>> prepare(const SourceRef& ref);
  /// Build the wheel unless it is known; afterwards wheel_sha and wheel_filename are set and
  /// the wheel is in the store.
  Status build(SourceBuild& s);
  /// Core metadata for the resolver: the built wheel's METADATA; an sdist's PKG-INFO when
  /// its Requires-Dist is static (PEP 643); else, in `plan`, prepare_metadata_for_build_wheel;
  /// otherwise the wheel is built now (marked built_while_resolving).
  Result<std::string> metadata(SourceBuild& s);
  /// Every source prepared in this run.
  std::vector<std::shared_ptr<SourceBuild>> all() const;

 private:
  Status acquire(SourceBuild& s);
  /// An archive's bytes (in the store as `sha`) against its pinned hashes.
  Status check_archive_hashes(const SourceRef& r, const std::string& sha) const;
  Status read_build_system(SourceBuild& s);
  Status compute_key(SourceBuild& s);
  Result<std::pair<std::string, std::string>> ensure_build_env(
      const std::vector<std::string>& requirements);
  Status run_build(SourceBuild& s);
  /// Remember `s`'s key fields and files as this location's last build.
  void record_inputs(const SourceBuild& s);
  /// Lets go of the run's index read session while a backend or a nested run works (other
  /// processes may then use the index); taken again when the last pause ends.
  class ReadsPaused {
   public:
    explicit ReadsPaused(SourceBuilder& b);
    ~ReadsPaused();
    ReadsPaused(const ReadsPaused&) = delete;
    ReadsPaused& operator=(const ReadsPaused&) = delete;

   private:
    SourceBuilder& b_;
  };
  /// A private copy of `s`'s tree at `dir` (replaced), with the recipe's patches applied.
  Status private_copy(const SourceBuild& s, const std::string& dir);
  /// Run one backend hook for `s` in the build env `env_dir` on `tree` (the source's
  /// settings, variables, SOURCE_DATE_EPOCH, --build-timeout; the log <cache>/logs/LOG.log),
  /// with the index let go meanwhile.
  Result<build::HookOutcome> run_backend(const SourceBuild& s, const std::string& env_dir,
                                         const std::string& tree, build::Hook hook,
                                         const std::string& out_dir, const std::string& log_name);
  /// The recipe's patches, in order, onto `tree` (a private copy); fuzzy hunks are warnings.
  Status apply_recipe_patches(const SourceBuild& s, const std::string& tree);
  void explain_rebuild(SourceBuild& s);
  std::string scratch();
  /// A new directory name of its own under scratch(): `prefix`-<random> (two sources with the
  /// same key, such as two trees with the same pyproject.toml, never share a work directory).
  std::string work_dir(const std::string& prefix);
  /// Held while `dest` under scratch() is checked and filled (an archive or a commit two
  /// requirements name is unpacked once, never read half-written).
  std::unique_lock<std::mutex> lock_dest(const std::string& dest);

  Context& ctx_;
  Fetcher& fetcher_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<SourceBuild>> sources_;
  std::map<std::string, std::unique_ptr<std::mutex>> dest_mutexes_;
  std::mutex env_mutex_;  ///< one build env made at a time
  std::mutex reads_mutex_;
  int pauses_ = 0;
  bool was_reading_ = false;
  std::string scratch_;  ///< this run's directory for unpacked sources and build copies
};

/// Whether `filename` (an sdist, a .zip/.tar.* archive) is a source archive.
bool is_source_archive(const std::string& filename);

}  // namespace lb::engine
