// The resolver's view of the world: versions and dependencies from the indexes, find-links
// and direct URLs, filtered for the target interpreter (wheel tags, Requires-Python).
#pragma once

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "engine/context.hpp"
#include "engine/fetch.hpp"
#include "pep/version.hpp"
#include "resolve/resolver.hpp"

namespace lb::engine {

/// A distribution given by URL or path (`name @ URL`, `./x.whl`).
struct DirectDist {
  std::string name;  ///< normalised
  pep::Version version;
  net::IndexFile file;
  std::string requested_url;  ///< as the user wrote it (for direct_url.json)
};

/// The interpreter, seen by the resolver as a package with one version.
inline constexpr const char* kPythonPackage = "python";

class IndexProvider : public resolve::Provider {
 public:
  IndexProvider(Context& ctx, Fetcher& fetcher) : ctx_(ctx), fetcher_(fetcher) {}

  void add_direct(DirectDist d);
  /// Allowed hashes ("sha256:hex") per normalised name (hash-checking mode).
  void set_hashes(std::map<std::string, std::set<std::string>> hashes) {
    hashes_ = std::move(hashes);
  }

  Result<std::vector<std::pair<pep::Version, bool>>> versions(const std::string& name) override;
  Result<std::vector<pep::Requirement>> dependencies(const std::string& name,
                                                     const pep::Version& version) override;
  void prefetch(const std::vector<std::pair<std::string, pep::Version>>& items) override;
  std::string yanked_reason(const std::string& name, const pep::Version& version) override;

  /// The file to install for name==version (best tag rank).
  Result<net::IndexFile> best_file(const std::string& name, const pep::Version& version);
  const DirectDist* direct(const std::string& name) const;
  /// Why a package has no usable versions (no such project, no compatible wheel), for the
  /// packages named in a resolver failure.
  std::string notes_for(const std::string& message) const;
  /// Wheels fetched while reading metadata (they count as executed fetch steps).
  /// url -> package name.
  std::map<std::string, std::string> fetched_during_resolution() const;

 private:
  struct Candidate {
    pep::Version version;
    bool yanked = true;                                    // all files yanked
    std::vector<std::pair<size_t, net::IndexFile>> files;  // (tag rank, file), best first
  };
  Result<std::vector<Candidate>*> candidates(const std::string& name);
  std::string python_full_version() const;

  Context& ctx_;
  Fetcher& fetcher_;
  std::map<std::string, DirectDist> direct_;
  std::map<std::string, std::set<std::string>> hashes_;
  mutable std::mutex mutex_;
  std::map<std::string, std::vector<Candidate>> candidates_;
  std::map<std::string, std::vector<pep::Requirement>> deps_;  // "name==version"
  std::map<std::string, std::string> fetched_;                 // url -> package
  std::map<std::string, Error> notes_;
};

}  // namespace lb::engine
