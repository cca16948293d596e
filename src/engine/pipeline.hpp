// From requirements to a pinned set of distributions to a step graph (fetch -> unpack -> link).
//
// Step keys (SHA-256 over typed fields, util/hash.hpp KeyHasher):
//   fetch   "lavabuild.fetch.v1"  url, expected sha256 (when the index gives one)
//   unpack  "lavabuild.unpack.v1" wheel sha256, wheel file name
//   compile (one step for every wheel whose bytecode is not stored; keys in engine/bytecode.hpp)
//   link    "lavabuild.link.v1"   unpack key, interpreter key, link mode, requested, direct URL,
//                                 bytecode ("none" or "<cache_tag>:<magic>")
//                                 (not the env path: a link output is only reused by the env
//                                 at the same path, which the env's stamp file records)
// Index keys owned here: "ac/<unpack key>" -> wheel::serialize_unpacked(...) (the unpack output);
// "env/<env path>" -> {"digest": ..., "unpack": [unpack keys], "wheels": [wheel sha256],
// "bytecode": [bytecode keys], "used": unix s} (what an env references: a gc root,
// engine/cache_gc.hpp; written by engine/env_build.cpp; "wheels", "bytecode" and "used" since
// issue 7, absent in older entries).
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/bytecode.hpp"
#include "engine/context.hpp"
#include "engine/fetch.hpp"
#include "engine/provider.hpp"
#include "engine/source_build.hpp"
#include "env/install.hpp"
#include "graph/graph.hpp"
#include "lock/pylock.hpp"
#include "wheel/wheel.hpp"

namespace lb::engine {

/// One distribution the env will contain.
struct Planned {
  std::string name;  ///< normalised
  std::string version;
  net::IndexFile file;
  bool requested = false;                 ///< named at top level (REQUESTED file)
  env::DirectUrl direct_url;              ///< non-empty url for direct installs
  std::set<std::string> allowed_hashes;   ///< "sha256:hex" (hash-checking mode)
  std::optional<uint64_t> expected_size;  ///< from a lock
  std::string origin;                     ///< "req.txt:3" or "pylock.toml" for messages
  std::vector<std::string> dependencies;  ///< normalised names it requires in this solution
  bool fetched_while_resolving = false;   ///< its wheel was downloaded to read METADATA
  int fetch_step = -1, link_step = -1;    ///< ids in the step graph

  // Filled while planning / running.
  std::string sha256;  ///< wheel sha, when known
  std::string unpack_key;
  std::string link_key;
  std::shared_ptr<wheel::UnpackedWheel> unpacked;
  std::shared_ptr<env::Bytecode> bytecode;  ///< its compiled pycs (null: none, --no-compile)
  /// Built from source (an sdist, a directory, an archive, a VCS checkout): the build step
  /// makes the wheel that is then unpacked and linked like any other.
  std::shared_ptr<SourceBuild> source;
  int build_step = -1;
};

/// The fetched wheel of `d` (in the store by d.sha256) against its pinned hashes and size.
Status check_pinned(const Planned& d, store::Store& store);

/// Read requirement files (or a lock) and resolve them to the distributions to install.
struct Resolved {
  std::vector<Planned> dists;  ///< sorted by name
};

class Pipeline {
 public:
  explicit Pipeline(Context& ctx)
      : ctx_(ctx), fetcher_(ctx), builder_(ctx, fetcher_), provider_(ctx, fetcher_) {
    provider_.set_builder(&builder_);
  }

  /// Parse inputs (requirement files or one pylock.toml) into ctx.reqs / a lock.
  Status load_inputs();
  /// Install exactly this lock (env --locked), after checking the requirements against it.
  Status use_lock(const std::string& path);
  /// A cheap identity of everything the env depends on (no network, no archive opened).
  std::string compute_stamp() const;
  /// Resolve (or read the lock) into the list of distributions.
  Result<Resolved> resolve();
  /// Build the step graph for `dists` into env `final_dir` given the old env's manifest and
  /// what changed in each of its distributions since it was built (env_state.hpp
  /// drift_of_dists, indexed like `old_dists`; both null when there is no old env). The file
  /// lists of the distributions the env keeps move from `old_dists` into `installed`.
  Status build_graph(Resolved& r, const std::string& final_dir, const std::string& work_dir,
                     std::vector<env::InstalledDist>* old_dists,
                     const std::vector<std::string>* old_drift, graph::Graph& g);

  Fetcher& fetcher() { return fetcher_; }
  IndexProvider& provider() { return provider_; }
  SourceBuilder& builder() { return builder_; }
  const std::optional<lock::Lock>& lock_input() const { return lock_; }
  /// Results of link steps (indexed like Resolved::dists), filled by the graph's run functions.
  std::vector<env::InstalledDist> installed;
  env::LinkReport link_report;
  std::mutex link_mutex;
  /// Pins of the existing env: the resolver tries them first, so a re-run moves nothing
  /// without cause.
  std::map<std::string, pep::Version> preferences;
  /// Distributions whose files in the existing env were changed or deleted since it was
  /// built (filled by build_graph; they are linked afresh): "name (what changed)".
  std::vector<std::string> repaired;
  /// --reinstall (every distribution) and --reinstall-package NAME: link them afresh even
  /// when the existing env has them unchanged.
  bool reinstall_all = false;
  std::set<std::string> reinstall;  ///< normalised names

 private:
  Status check_supported_options();
  Result<Resolved> resolve_lock();
  Result<Resolved> resolve_requirements();
  /// The step compiling the bytecode of `dists` (indexes into r.dists, whose unpack steps
  /// are `unpack_ids`); their link steps wait for it.
  void add_compile_step(Resolved& r, const std::vector<size_t>& dists,
                        const std::vector<int>& unpack_ids, graph::Graph& g);
  Context& ctx_;
  /// A requirement given as a directory, a source archive or a VCS URL (`e`, written at
  /// `where`): its source prepared and its metadata read, as a direct distribution.
  /// A locked package given by its source (vcs, directory, archive, or an sdist with no wheel
  /// for this interpreter): prepared to be built with the same keys as from requirements.
  Result<Planned> locked_source(const lock::Package& p, const std::string& lock_dir);
  Result<DirectDist> direct_source(const reqfile::Entry& e, const std::string& link,
                                   const std::string& where);
  /// `d` is built: from now on it is its wheel (file, sha256, unpack key).
  void use_built_wheel(Planned& d);
  /// The stored unpack output "ac/<key>" when it and every blob it names are intact (the
  /// lookup falls back to the remote cache, when there is one); else null, with `why`.
  std::shared_ptr<wheel::UnpackedWheel> stored_unpack(const std::string& key, std::string& why);
  /// A wheel not in the store whose sha256 the index or the lock gives (and every pin
  /// allows), with its unpacked files stored: it need not be fetched at all.
  bool unpacked_without_fetch(Planned& d);
  /// stored_unpack's second half (no index access, so safe on the executor's threads): the
  /// value of "ac/<key>" parsed, and every blob it names checked in the store.
  std::shared_ptr<wheel::UnpackedWheel> check_stored_unpack(std::string_view value,
                                                            std::string& why) const;
  /// The index keys ("ac/...", "bytecode/...") build_graph's loop will look up one by one:
  /// each dist's unpack and, when bytecode is compiled, its bytecode; none for a dist the
  /// existing env keeps as it is.
  std::vector<std::string> stored_keys(const Resolved& r,
                                       const std::vector<env::InstalledDist>* old_dists,
                                       const BytecodeTarget& bytecode);
  /// With a remote cache: fetch those entries all at once (remote::Layer::prefetch), so
  /// that each lookup is local.
  void prefetch_remote(const std::vector<std::string>& keys);
  /// Read those entries (one index session, in order), then parse them and stat every blob
  /// they name on the executor (graph::parallel_for): the loop's stored_unpack and
  /// load_bytecode find the results in preloaded_ instead of doing that work one by one.
  void preload_stored(const std::vector<std::string>& keys, const BytecodeTarget& bytecode);
  struct Preloaded {
    std::shared_ptr<wheel::UnpackedWheel> unpacked;
    std::shared_ptr<env::Bytecode> bytecode;
    std::string why;  ///< why `unpacked` is null
  };
  std::unordered_map<std::string, Preloaded> preloaded_;  ///< by index key
  /// load_bytecode, or its preloaded result.
  std::shared_ptr<env::Bytecode> loaded_bytecode(const std::string& key,
                                                 const BytecodeTarget& bytecode);
  Fetcher fetcher_;
  SourceBuilder builder_;
  IndexProvider provider_;
  std::optional<lock::Lock> lock_;
  std::string lock_path_;
};

}  // namespace lb::engine
