// The resolver's view of the world: versions and dependencies from the indexes, find-links
// and direct URLs, filtered for the target interpreter (wheel tags, Requires-Python).
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/context.hpp"
#include "engine/fetch.hpp"
#include "engine/source_build.hpp"
#include "env/install.hpp"
#include "pep/version.hpp"
#include "resolve/resolver.hpp"

namespace lb::engine {

/// A distribution given by URL or path (`name @ URL`, `./x.whl`).
struct DirectDist {
  std::string name;  ///< normalised
  pep::Version version;
  net::IndexFile file;
  std::string requested_url;  ///< as the user wrote it (for direct_url.json)
  /// Built from source: the source, its core metadata and its PEP 610 record.
  std::shared_ptr<SourceBuild> source;
  std::string metadata;
  std::optional<env::DirectUrl> direct_url;
};

/// The rank of a source archive among a version's files: after every wheel.
inline constexpr size_t kSdistRank = size_t(1) << 30;

/// The interpreter, seen by the resolver as a package with one version.
inline constexpr const char* kPythonPackage = "python";

class IndexProvider : public resolve::Provider {
 public:
  IndexProvider(Context& ctx, Fetcher& fetcher) : ctx_(ctx), fetcher_(fetcher) {}

  void add_direct(DirectDist d);
  /// Builds sdists when no wheel will do (owned by the Pipeline).
  void set_builder(SourceBuilder* b) { builder_ = b; }
  /// The source behind name==version when its best file is a source archive (prepared).
  Result<std::shared_ptr<SourceBuild>> source_of(const std::string& name,
                                                 const pep::Version& version);
  /// Allowed hashes ("sha256:hex") per normalised name (hash-checking mode).
  void set_hashes(std::map<std::string, std::set<std::string>> hashes) {
    hashes_ = std::move(hashes);
  }

  Result<std::vector<std::pair<pep::Version, bool>>> versions(const std::string& name) override;
  Result<std::vector<pep::Requirement>> dependencies(const std::string& name,
                                                     const pep::Version& version) override;
  void prefetch(const std::vector<std::pair<std::string, pep::Version>>& items) override;
  std::string yanked_reason(const std::string& name, const pep::Version& version) override;

  /// The requirements --seed adds: what `python -m venv` seeds for the interpreter (pip, and
  /// setuptools before 3.12), except those in `already`; each from the indexes when they have
  /// a usable release, else the interpreter's bundled wheel (ensurepip's), added as direct.
  Result<std::vector<pep::Requirement>> seed_requirements(const std::set<std::string>& already);
  /// The file to install for name==version (best tag rank).
  Result<net::IndexFile> best_file(const std::string& name, const pep::Version& version);
  const DirectDist* direct(const std::string& name) const;
  /// Why a package has no usable versions (no such project, no compatible wheel), for the
  /// packages named in a resolver failure; and, for the user's requirements `roots` only
  /// yanked or pre-release files match, which pages were asked.
  std::string notes_for(const std::string& message,
                        const std::vector<pep::Requirement>& roots) const;
  /// When the user's requirement `req` (written at `where`, "file:line") cannot be met by any
  /// file the indexes offer for a reason of the files themselves (no such project, only
  /// source archives, wheels only for other tags, Requires-Python) that reason, naming the
  /// pages asked; nullopt when a usable release matches it (then the resolver explains).
  std::optional<Error> unavailable(const pep::Requirement& req, const std::string& where) const;
  /// "NAME VERSION does not provide the extra 'X'" for each extra the resolution asked of a
  /// release whose metadata does not declare it (pip warns and installs without it).
  std::vector<std::string> unknown_extras(const resolve::Resolution& resolution) const;
  /// Wheels fetched while reading metadata (they count as executed fetch steps).
  /// url -> package name.
  std::map<std::string, std::string> fetched_during_resolution() const;

 private:
  struct Candidate {
    pep::Version version;
    bool yanked = true;                                    // all files yanked
    std::vector<std::pair<size_t, net::IndexFile>> files;  // (tag rank, file), best first
  };
  /// A file of the project left out, and why (for the messages when nothing fits).
  struct Excluded {
    enum class Why { requires_python, tags, sdist, no_binary } why;
    std::string version;  ///< as in the file name
    std::string detail;   ///< the Requires-Python, or the wheel's tags
  };
  struct Diagnosis {
    size_t files = 0;                ///< files listed for the project, all pages together
    std::vector<Excluded> excluded;  ///< in page order
  };
  Result<std::vector<Candidate>*> candidates(const std::string& name);
  /// Lines saying why no file of `name` matching `spec` (nullptr: any) can be used, and the
  /// fix in `hint`; "" when none was left out for a reason of its own.
  std::string why_unusable(const std::string& name, const pep::SpecifierSet* spec,
                           std::string& hint) const;
  /// The pages and find-links asked for `name`.
  std::string asked(const std::string& name) const;
  std::string python_full_version() const;

  Context& ctx_;
  Fetcher& fetcher_;
  SourceBuilder* builder_ = nullptr;
  std::map<std::string, DirectDist> direct_;
  std::map<std::string, std::set<std::string>> hashes_;
  mutable std::mutex mutex_;
  std::map<std::string, std::vector<Candidate>> candidates_;
  std::map<std::string, std::vector<pep::Requirement>> deps_;        // "name==version"
  std::map<std::string, std::string> fetched_;                       // url -> package
  std::map<std::string, Diagnosis> diagnoses_;                       // name -> files left out
  std::map<std::string, std::vector<std::string>> provided_extras_;  // "name==version"
};

}  // namespace lb::engine
