// A remote cache as lavabuild sees it: action entries by key, blobs by digest. Two protocols
// implement it: the Bazel HTTP cache (`http_cache.cpp`: GET/PUT/HEAD on <base>/ac/<hex> and
// <base>/cas/<hex>) and the Remote Execution API v2 cache over gRPC (`grpc_cache.cpp`, the
// module liblavabuild-grpc.so, loaded on first use like libcurl: gRPC and protobuf types never
// leave it). Neither is trusted: the caller (remote/layer.hpp) checks every blob against its
// digest and every action entry's signature (remote/sign.hpp).
//
// Errors and misses: a Result error means the remote failed (refused, timeout, 5xx, gRPC
// UNAVAILABLE/DEADLINE_EXCEEDED, a malformed answer); the caller warns once and stops using
// the remote for the rest of the run. A miss is not an error (nullopt / absent from a list).
// Error messages name the remote by name() (credentials stripped), never a header value.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"

namespace lb::remote {

/// A REAPI digest: SHA-256 hex (lowercase) and size in bytes.
struct Digest {
  std::string hash;
  int64_t size = 0;
  bool operator==(const Digest&) const = default;
  auto operator<=>(const Digest&) const = default;
};

/// One output file of an action entry (a REAPI ActionResult.output_files element).
struct OutputFile {
  std::string path;
  Digest digest;
  bool executable = false;
  bool operator==(const OutputFile&) const = default;
};

/// An action entry: what a REAPI ActionResult says of our step (exit code 0, output files).
struct ActionEntry {
  std::vector<OutputFile> files;
  bool operator==(const ActionEntry&) const = default;
};

/// Where the remote is and how to talk to it (the --remote-* options).
struct RemoteOptions {
  /// http://, https:// (Bazel HTTP cache, base URL, may hold user:pass@), grpc://, grpcs://
  /// (host:port[/instance]).
  std::string url;
  /// Extra headers ("Name: value"), e.g. "Authorization: Bearer ..."; sent on every request
  /// (HTTP) or as call metadata (gRPC). Never logged.
  std::vector<std::string> headers;
  /// PEM file of CA certificates for TLS; empty: the system's.
  std::string ca_file;
  /// One request (a whole batch for the batch calls), connection included.
  std::chrono::milliseconds timeout{5000};
  /// The largest blob read or written (bigger ones are skipped: a miss, never an error).
  uint64_t max_blob_bytes = uint64_t(1) << 30;
  /// Up to this many transfers at once.
  int parallel = 8;
  /// For gRPC's RequestMetadata: the tool's invocation id (random per run) and action id
  /// are filled by the backend; this names the tool ("lavabuild") and its version.
  std::string tool_version;
};

class RemoteCache {
 public:
  virtual ~RemoteCache() = default;
  /// The URL without credentials: what messages name.
  virtual std::string name() const = 0;
  /// How many calls the caller may make at once (RemoteOptions::parallel): a caller with many
  /// entries to look up asks for that many at a time.
  virtual int parallel() const { return 8; }
  /// The action entry stored under `action` (a SHA-256 hex); nullopt on a miss. An answer
  /// that does not parse as an ActionResult is an error.
  virtual Result<std::optional<ActionEntry>> get_action(const std::string& action) = 0;
  /// Store the entry (the caller uploaded every blob it names first).
  virtual Status put_action(const std::string& action, const ActionEntry& entry) = 0;
  /// Which of `digests` the remote does not have (HTTP: HEAD, or GET when HEAD gives 405).
  virtual Result<std::vector<Digest>> find_missing(const std::vector<Digest>& digests) = 0;
  /// The bytes of each blob, in input order (nullopt: the remote does not have it). Not
  /// checked against the digest here: the caller does that. Transfers run in parallel.
  virtual Result<std::vector<std::optional<std::string>>> read_blobs(
      const std::vector<Digest>& digests) = 0;
  /// Upload blobs (their digests are right: the caller computed them from the bytes).
  virtual Status write_blobs(const std::vector<std::pair<Digest, std::string>>& blobs) = 0;
};

/// The backend for `opt.url`'s scheme; an error for another scheme or a malformed URL (naming
/// it, credentials stripped). Opening a gRPC remote asks for its Capabilities (the batch size
/// limit); a failure to do so is an error like any other remote failure.
Result<std::unique_ptr<RemoteCache>> open_remote_cache(const RemoteOptions& opt);

/// The same, opened on first use (the first call that needs the remote opens it; a failure
/// to open is that call's error, and every later call's): a run that never asks the remote
/// anything (the no-op re-run) neither loads a backend nor connects. Thread-safe.
std::unique_ptr<RemoteCache> lazy_remote_cache(const RemoteOptions& opt);

/// The backends, for tests and open_remote_cache.
Result<std::unique_ptr<RemoteCache>> open_http_cache(const RemoteOptions& opt);
Result<std::unique_ptr<RemoteCache>> open_grpc_cache(const RemoteOptions& opt);

/// `url` with any user:password@ removed (and nothing else changed).
std::string strip_credentials(const std::string& url);

}  // namespace lb::remote
