// Everything one command run shares: options, output, the store, the network, the interpreter.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/options.hpp"
#include "engine/output.hpp"
#include "interp/interpreter.hpp"
#include "net/http.hpp"
#include "net/index.hpp"
#include "pep/tags.hpp"
#include "reqfile/reqfile.hpp"
#include "store/store.hpp"

namespace lb::remote {
struct RemoteStats;
}

namespace lb::engine {

struct Context {
  using TimePoint = std::chrono::steady_clock::time_point;
  Options opt;
  /// The clock durations in reports are measured with (tests inject their own).
  std::function<TimePoint()> now = [] { return std::chrono::steady_clock::now(); };
  Output* out = nullptr;
  std::shared_ptr<store::Store> store;
  /// The remote cache's counters when one is attached (engine/remote.hpp), else null.
  std::shared_ptr<remote::RemoteStats> remote_stats;
  std::unique_ptr<net::HttpClient> http;
  std::unique_ptr<net::PageCache> page_cache;
  std::unique_ptr<net::IndexClient> index;
  interp::Interpreter python;
  std::map<std::string, size_t> tag_rank;  ///< "cp311-cp311-linux_x86_64" -> priority (0 best)
  reqfile::Parsed reqs;                    ///< merged requirement files + command line
  net::Limits limits;                      ///< network limits (docs/LIMITS.md)
  /// Where projects are looked up, for progress lines: "URL" or "URL and 2 more".
  std::string sources;

 private:
  std::optional<store::Session> reads_;
  std::mutex puts_mutex_;
  std::vector<std::pair<std::string, std::string>> puts_;

 public:
  /// Open the store, probe the interpreter, set up the index from options + files.
  Status init(const Options& options, Output& output);
  /// The same from given parts, probing nothing: what init does once it has opened the store
  /// and probed the interpreter. Tests pass a fake store and a hand-made interpreter.
  void init_with(const Options& options, Output& output, std::shared_ptr<store::Store> s,
                 interp::Interpreter interpreter);
  /// Set up HTTP + index client once requirement files are read (their options count).
  Status init_index();
  /// Hold the store's index open for reads (one cheap read-only open instead of one per
  /// lookup) until end_reads(). Writes meanwhile must go through defer_put.
  void begin_reads();
  void end_reads() { reads_.reset(); }
  /// A read session from begin_reads is held.
  bool reading() const { return reads_.has_value(); }
  /// Index writes made while the store's index is not held open: flushed in one batch.
  void defer_put(std::string key, std::string value);
  Status flush_puts();
  /// flush_puts, with a warning when the index could not be written (the run goes on: the
  /// next one redoes some work).
  void flush_or_warn();
  /// Whether `name` (normalised) may be built from an sdist: not --only-binary (:all: or the
  /// name; a name listed in --no-binary wins over :all:) and not a build env's run.
  bool source_allowed(const std::string& name) const;
  /// Whether wheels of `name` may be used: not --no-binary (:all: or the name; a name listed
  /// in --only-binary wins over :all:).
  bool binary_allowed(const std::string& name) const;
  /// Rank of a wheel filename for this interpreter (lower is better), or nullopt if incompatible.
  std::optional<size_t> wheel_rank(const std::string& filename) const;
  /// The same for a parsed file name's tags.
  std::optional<size_t> tags_rank(const std::vector<pep::Tag>& tags) const;
};

}  // namespace lb::engine
