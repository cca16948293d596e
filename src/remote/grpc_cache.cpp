// The REAPI v2 remote cache over gRPC. This file is the module liblavabuild-grpc.so (loaded on
// first use by grpc_loader.cpp): gRPC and protobuf are linked here and nowhere else, and
// their types never leave this file. The one entry point is lavabuild_open_grpc_cache below.
//
// What is spoken (REAPI v2, remote_execution.proto; SPECS.md "Remote cache protocols"):
//   open          Capabilities.GetCapabilities: SHA256 must be a digest function, the API
//                 range must include 2.x, max_batch_total_size_bytes sizes the batches.
//   get_action    ActionCache.GetActionResult (NOT_FOUND: a miss)
//   put_action    ActionCache.UpdateActionResult (exit code 0, output_files: the 2.0 field,
//                 which Bazel's own worker advertises)
//   find_missing  ContentAddressableStorage.FindMissingBlobs, in requests under the limit
//   read_blobs    BatchReadBlobs for blobs that fit a batch, ByteStream.Read of
//                 {instance}/blobs/{hash}/{size} for the others (and for all of them on a
//                 server without BatchReadBlobs, such as Bazel 4's worker: UNIMPLEMENTED)
//   write_blobs   BatchUpdateBlobs, or ByteStream.Write to
//                 {instance}/uploads/{uuid}/blobs/{hash}/{size} in chunks
// Every call carries the requestmetadata-bin header (RequestMetadata: tool "lavabuild", its
// version, a random id per process, the action id for action-cache calls), the user's
// headers, and a deadline of RemoteOptions::timeout.
//
// Action keys: lavabuild's keys are SHA-256 hex strings, not digests of an Action message, so
// the action digest sent is {key, size 0}: the same convention for every lavabuild client,
// which is all a cache needs to find an entry again.
#include <grpc/support/log.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "build/bazel/remote/execution/v2/remote_execution.grpc.pb.h"
#include "google/bytestream/bytestream.grpc.pb.h"
#include "remote/cache.hpp"

namespace lb::remote {
namespace {

namespace re = build::bazel::remote::execution::v2;
namespace bs = google::bytestream;

// --- limits ------------------------------------------------------------------------------
/// A server that advertises max_batch_total_size_bytes = 0 (no limit of its own) still has
/// gRPC's default 4 MiB message limit: batches stay under it.
constexpr int64_t kDefaultBatchBytes = int64_t(4) << 20;
/// Our own cap on a batch whatever the server advertises: bigger batches save no round trips
/// worth having and hold more memory per transfer.
constexpr int64_t kMaxBatchBytes = int64_t(16) << 20;
/// What a blob costs in a batch request or response besides its bytes: its digest (64 hex
/// digits, a varint size), a status and protobuf framing; generous, so that a batch whose
/// data fits the limit also fits as a message.
constexpr int64_t kBatchEntryOverhead = 256;
/// What one digest costs in a FindMissingBlobs request or response (about 75 bytes).
constexpr int64_t kFindMissingEntryBytes = 128;
/// Messages we accept: a whole batch plus slack for its framing.
constexpr int kMaxReceiveBytes = int(kMaxBatchBytes + (int64_t(1) << 20));
/// ByteStream.Write chunk: 1 MiB, well under every server's 4 MiB message limit.
constexpr size_t kWriteChunkBytes = size_t(1) << 20;
/// Threads for one read_blobs / write_blobs / find_missing call: RemoteOptions::parallel,
/// clamped to [1, kMaxParallel].
constexpr int kMaxParallel = 64;
/// The metadata key of RequestMetadata (binary: gRPC base64-encodes it).
constexpr const char* kRequestMetadataKey = "build.bazel.remote.execution.v2.requestmetadata-bin";
/// SHA-256 of nothing: the empty blob, which REAPI servers need not store (every client
/// has it).
constexpr const char* kEmptyHash =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

const char* code_name(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "UNKNOWN_CODE";
  }
}

std::string hint_for(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::UNAVAILABLE:
      return "is the server running and reachable at that address (and does it speak TLS "
             "for grpcs://, plaintext for grpc://)?";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "the server did not answer within the remote timeout";
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
      return "check the credentials sent as remote headers";
    default:
      return {};
  }
}

/// 64 lowercase hex digits.
bool is_sha256_hex(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::string base64(const std::string& in) {
  static const char* abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v =
        uint32_t(uint8_t(in[i])) << 16 | uint32_t(uint8_t(in[i + 1])) << 8 | uint8_t(in[i + 2]);
    for (int s : {18, 12, 6, 0}) out += abc[(v >> s) & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16;
    out += abc[(v >> 18) & 63];
    out += abc[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16 | uint32_t(uint8_t(in[i + 1])) << 8;
    out += abc[(v >> 18) & 63];
    out += abc[(v >> 12) & 63];
    out += abc[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

/// Random hex, for the invocation id and upload ids; one generator per process, locked.
std::string random_hex(size_t bytes) {
  static std::mutex mu;
  static std::mt19937_64 gen{[] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
  }()};
  static const char* hex = "0123456789abcdef";
  std::string out;
  std::lock_guard lock(mu);
  for (size_t i = 0; i < bytes; ++i) {
    auto b = unsigned(gen() & 0xff);
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

/// A version-4 UUID (RFC 4122 text form), as REAPI asks for upload ids.
std::string random_uuid() {
  std::string h = random_hex(16);
  h[12] = '4';
  h[16] = "89ab"[std::stoi(h.substr(16, 1), nullptr, 16) & 3];
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20);
}

/// The id of this process's invocation, the same for every remote it opens.
const std::string& invocation_id() {
  static const std::string id = random_uuid();
  return id;
}

/// Runs job(i) for every i < n on up to `parallel` threads (the caller's among them); after
/// the first error no new job starts, and that error is the result.
Status run_parallel(size_t n, int parallel, const std::function<Status(size_t)>& job) {
  if (n == 0) return {};
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  std::optional<Error> first;
  auto work = [&] {
    for (size_t i; !failed.load() && (i = next.fetch_add(1)) < n;) {
      Status s = job(i);
      if (!s.ok()) {
        std::lock_guard lock(mu);
        if (!first) first = s.error();
        failed = true;
      }
    }
  };
  size_t threads = std::min(n, size_t(std::clamp(parallel, 1, kMaxParallel)));
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (first) return *first;
  return {};
}

re::Digest to_proto(const Digest& d) {
  re::Digest p;
  p.set_hash(d.hash);
  p.set_size_bytes(d.size);
  return p;
}

/// Where the remote is: grpc[s]://[user:pass@]host:port[/instance].
struct Target {
  std::string authority;  // host:port, as gRPC's target
  std::string instance;   // "" or the instance name (may hold slashes)
  bool tls = false;
  std::string basic_auth;  // user:pass from the URL, sent as Authorization: Basic
};

Result<Target> parse_target(const std::string& url, const std::string& name) {
  Target t;
  std::string rest;
  if (url.rfind("grpcs://", 0) == 0) {
    t.tls = true;
    rest = url.substr(8);
  } else if (url.rfind("grpc://", 0) == 0) {
    rest = url.substr(7);
  } else {
    return make_error("--remote-cache " + name + ": not a grpc:// or grpcs:// URL");
  }
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  if (slash != std::string::npos) t.instance = rest.substr(slash + 1);
  while (!t.instance.empty() && t.instance.back() == '/') t.instance.pop_back();
  if (size_t at = authority.rfind('@'); at != std::string::npos) {
    t.basic_auth = authority.substr(0, at);
    authority = authority.substr(at + 1);
  }
  // host:port, the host possibly an [IPv6] literal.
  size_t colon = authority.rfind(':');
  size_t bracket = authority.rfind(']');
  bool has_port = colon != std::string::npos && (bracket == std::string::npos || colon > bracket);
  std::string host = has_port ? authority.substr(0, colon) : authority;
  std::string port = has_port ? authority.substr(colon + 1) : "";
  if (host.empty())
    return make_error("--remote-cache " + name + ": no host", "write grpc://host:port[/instance]");
  if (port.empty()) {
    // grpcs has a conventional port (443, as Bazel assumes); plain grpc has none.
    if (!t.tls)
      return make_error("--remote-cache " + name + ": no port",
                        "write grpc://host:port[/instance]");
    port = "443";
  }
  if (port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      std::stoi(port) == 0 || std::stoi(port) > 65535)
    return make_error("--remote-cache " + name + ": bad port '" + port + "'",
                      "write grpc://host:port[/instance]");
  t.authority = host + ":" + port;
  return t;
}

/// The user's "Name: value" headers as gRPC metadata (lowercase keys). A name gRPC cannot
/// carry is an error naming the header, never its value.
Result<std::vector<std::pair<std::string, std::string>>> to_metadata(
    const std::vector<std::string>& headers, const std::string& name) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& h : headers) {
    size_t colon = h.find(':');
    std::string key = h.substr(0, colon);
    while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.pop_back();
    std::transform(key.begin(), key.end(), key.begin(),
                   [](unsigned char c) { return char(std::tolower(c)); });
    bool key_ok = !key.empty() && key.rfind("grpc-", 0) != 0 &&
                  std::all_of(key.begin(), key.end(), [](char c) {
                    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                           c == '_' || c == '.';
                  });
    if (colon == std::string::npos || !key_ok)
      return make_error(
          "--remote-cache " + name + ": the header '" + key + "' cannot be sent as gRPC metadata",
          "give headers as 'Name: value'; names are letters, digits, '-', '_' and '.', "
          "not starting with 'grpc-'");
    std::string value = h.substr(colon + 1);
    size_t b = value.find_first_not_of(" \t");
    size_t e = value.find_last_not_of(" \t");
    value = b == std::string::npos ? "" : value.substr(b, e - b + 1);
    bool binary = key.size() > 4 && key.compare(key.size() - 4, 4, "-bin") == 0;
    if (!binary &&
        !std::all_of(value.begin(), value.end(), [](char c) { return c >= 0x20 && c <= 0x7e; }))
      return make_error("--remote-cache " + name + ": the value of header '" + key +
                        "' is not printable ASCII, which gRPC metadata requires");
    out.emplace_back(std::move(key), std::move(value));
  }
  return out;
}

Result<std::string> read_pem(const std::string& path, const std::string& name) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return make_error("--remote-cache " + name + ": cannot read the CA file " + path,
                      "give a PEM file of CA certificates");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class GrpcCache final : public RemoteCache {
 public:
  GrpcCache(const RemoteOptions& opt, std::string name, Target target,
            std::vector<std::pair<std::string, std::string>> headers,
            std::shared_ptr<grpc::Channel> channel)
      : opt_(opt),
        name_(std::move(name)),
        target_(std::move(target)),
        headers_(std::move(headers)),
        cas_(re::ContentAddressableStorage::NewStub(channel)),
        ac_(re::ActionCache::NewStub(channel)),
        caps_(re::Capabilities::NewStub(channel)),
        bytestream_(bs::ByteStream::NewStub(channel)) {}

  std::string name() const override { return name_; }
  int parallel() const override { return std::clamp(opt_.parallel, 1, kMaxParallel); }

  /// GetCapabilities: the checks of open, and the batch size.
  Status handshake() {
    grpc::ClientContext ctx;
    prepare(ctx);
    re::GetCapabilitiesRequest req;
    req.set_instance_name(target_.instance);
    re::ServerCapabilities caps;
    grpc::Status st = caps_->GetCapabilities(&ctx, req, &caps);
    if (!st.ok()) return rpc_error("GetCapabilities", st);
    const auto& cc = caps.cache_capabilities();
    // An empty list is what servers from before the field was required send: SHA-256 then.
    bool sha256 = cc.digest_function_size() == 0 ||
                  std::any_of(cc.digest_function().begin(), cc.digest_function().end(),
                              [](int f) { return f == re::DigestFunction::SHA256; });
    if (!sha256)
      return make_error("remote cache " + name_ + ": the server does not support SHA-256 digests",
                        "lavabuild's keys and blobs are SHA-256: use a remote configured for it");
    // The server speaks the versions [low, high]; we speak 2.x. Unset (0.0) means the server
    // did not say: take it at its word that it is a v2 server.
    const auto& low = caps.low_api_version();
    const auto& high = caps.high_api_version();
    bool said = high.major() != 0 || high.minor() != 0 || low.major() != 0 || low.minor() != 0;
    if (said && (low.major() > 2 || high.major() < 2))
      return make_error("remote cache " + name_ + ": the server speaks REAPI " +
                            std::to_string(low.major()) + "." + std::to_string(low.minor()) +
                            " to " + std::to_string(high.major()) + "." +
                            std::to_string(high.minor()) + ", lavabuild speaks 2.x",
                        "use a REAPI v2 server");
    int64_t limit = cc.max_batch_total_size_bytes();
    batch_bytes_ = std::min(limit > 0 ? limit : kDefaultBatchBytes, kMaxBatchBytes);
    return {};
  }

  Result<std::optional<ActionEntry>> get_action(const std::string& action) override {
    grpc::ClientContext ctx;
    prepare(ctx, action);
    re::GetActionResultRequest req;
    req.set_instance_name(target_.instance);
    *req.mutable_action_digest() = to_proto(Digest{action, 0});
    re::ActionResult res;
    grpc::Status st = ac_->GetActionResult(&ctx, req, &res);
    if (st.error_code() == grpc::StatusCode::NOT_FOUND) return std::optional<ActionEntry>{};
    if (!st.ok()) return rpc_error("GetActionResult", st);
    // An entry another tool wrote for a failed action is not ours: a miss.
    if (res.exit_code() != 0) return std::optional<ActionEntry>{};
    ActionEntry entry;
    for (const auto& f : res.output_files()) {
      if (!is_sha256_hex(f.digest().hash()) || f.digest().size_bytes() < 0)
        return make_error("remote cache " + name_ + ": GetActionResult for " + action +
                          ": an output file with a malformed digest");
      entry.files.push_back(OutputFile{f.path(), Digest{f.digest().hash(), f.digest().size_bytes()},
                                       f.is_executable()});
    }
    return std::optional<ActionEntry>{std::move(entry)};
  }

  Status put_action(const std::string& action, const ActionEntry& entry) override {
    grpc::ClientContext ctx;
    prepare(ctx, action);
    re::UpdateActionResultRequest req;
    req.set_instance_name(target_.instance);
    *req.mutable_action_digest() = to_proto(Digest{action, 0});
    re::ActionResult* res = req.mutable_action_result();
    res->set_exit_code(0);
    for (const auto& f : entry.files) {
      re::OutputFile* o = res->add_output_files();
      o->set_path(f.path);
      *o->mutable_digest() = to_proto(f.digest);
      o->set_is_executable(f.executable);
    }
    re::ActionResult stored;
    grpc::Status st = ac_->UpdateActionResult(&ctx, req, &stored);
    if (!st.ok()) return rpc_error("UpdateActionResult", st);
    return {};
  }

  Result<std::vector<Digest>> find_missing(const std::vector<Digest>& digests) override {
    std::vector<Digest> unique;
    {
      std::map<Digest, bool> seen;
      for (const auto& d : digests)
        if (d.hash != kEmptyHash && seen.emplace(d, true).second) unique.push_back(d);
    }
    size_t per_request = size_t(std::max<int64_t>(1, batch_bytes_ / kFindMissingEntryBytes));
    size_t requests = (unique.size() + per_request - 1) / per_request;
    std::vector<std::vector<Digest>> missing(requests);
    Status s = run_parallel(requests, opt_.parallel, [&](size_t r) -> Status {
      grpc::ClientContext ctx;
      prepare(ctx);
      re::FindMissingBlobsRequest req;
      req.set_instance_name(target_.instance);
      size_t end = std::min(unique.size(), (r + 1) * per_request);
      for (size_t i = r * per_request; i < end; ++i) *req.add_blob_digests() = to_proto(unique[i]);
      re::FindMissingBlobsResponse res;
      grpc::Status st = cas_->FindMissingBlobs(&ctx, req, &res);
      if (!st.ok()) return rpc_error("FindMissingBlobs", st);
      for (const auto& d : res.missing_blob_digests())
        missing[r].push_back(Digest{d.hash(), d.size_bytes()});
      return {};
    });
    if (!s.ok()) return s.error();
    std::vector<Digest> out;
    for (auto& m : missing) out.insert(out.end(), m.begin(), m.end());
    return out;
  }

  Result<std::vector<std::optional<std::string>>> read_blobs(
      const std::vector<Digest>& digests) override {
    std::vector<std::optional<std::string>> out(digests.size());
    // Each distinct digest is read once.
    std::map<Digest, std::vector<size_t>> where;
    for (size_t i = 0; i < digests.size(); ++i) {
      const Digest& d = digests[i];
      if (d.size < 0 || uint64_t(d.size) > opt_.max_blob_bytes) continue;  // skipped: a miss
      if (d.hash == kEmptyHash && d.size == 0) {
        out[i] = std::string();
        continue;
      }
      where[d].push_back(i);
    }
    std::vector<Digest> unique;
    for (const auto& [d, _] : where) unique.push_back(d);
    std::vector<std::optional<std::string>> got(unique.size());
    std::vector<std::vector<size_t>> jobs = plan(unique, batch_read_ok_.load());
    std::mutex streamed_mu;
    std::vector<size_t> streamed;  // of batches the server would not read as batches
    Status s = run_parallel(jobs.size(), opt_.parallel, [&](size_t j) -> Status {
      const auto& items = jobs[j];
      if (items.size() == 1 && !fits_batch(unique[items[0]]))
        return stream_read(unique[items[0]], got[items[0]]);
      if (batch_read_ok_.load()) {
        Status b = batch_read(unique, items, got);
        if (b.ok() || batch_read_ok_.load()) return b;
      }
      // No BatchReadBlobs on this server: ByteStream for each, below, one job per blob (not
      // one thread reading the whole batch while the others are idle).
      std::lock_guard lock(streamed_mu);
      streamed.insert(streamed.end(), items.begin(), items.end());
      return {};
    });
    if (!s.ok()) return s.error();
    s = run_parallel(streamed.size(), opt_.parallel, [&](size_t k) -> Status {
      return stream_read(unique[streamed[k]], got[streamed[k]]);
    });
    if (!s.ok()) return s.error();
    for (size_t u = 0; u < unique.size(); ++u)
      for (size_t i : where[unique[u]]) out[i] = got[u];
    return out;
  }

  Status write_blobs(const std::vector<std::pair<Digest, std::string>>& blobs) override {
    // Each distinct digest once; the empty blob never (every server has it).
    std::vector<const std::pair<Digest, std::string>*> uploads;
    {
      std::set<Digest> seen;
      for (const auto& b : blobs) {
        const Digest& d = b.first;
        if (d.size == 0 || uint64_t(d.size) > opt_.max_blob_bytes) continue;
        if (seen.insert(d).second) uploads.push_back(&b);
      }
    }
    std::vector<Digest> digests;
    for (const auto* b : uploads) digests.push_back(b->first);
    std::vector<std::vector<size_t>> jobs = plan(digests, batch_update_ok_.load());
    return run_parallel(jobs.size(), opt_.parallel, [&](size_t j) -> Status {
      const auto& items = jobs[j];
      if (items.size() == 1 && !fits_batch(digests[items[0]]))
        return stream_write(*uploads[items[0]]);
      if (batch_update_ok_.load()) {
        Status b = batch_write(uploads, items);
        if (b.ok() || batch_update_ok_.load()) return b;
      }
      for (size_t i : items)
        if (Status w = stream_write(*uploads[i]); !w.ok()) return w;
      return {};
    });
  }

 private:
  /// Deadline and metadata of every call; `action` (an action key) fills RequestMetadata's
  /// action_id.
  void prepare(grpc::ClientContext& ctx, const std::string& action = {}) const {
    ctx.set_deadline(std::chrono::system_clock::now() + opt_.timeout);
    re::RequestMetadata md;
    md.mutable_tool_details()->set_tool_name("lavabuild");
    md.mutable_tool_details()->set_tool_version(opt_.tool_version);
    md.set_tool_invocation_id(invocation_id());
    if (!action.empty()) md.set_action_id(action);
    ctx.AddMetadata(kRequestMetadataKey, md.SerializeAsString());
    if (!target_.basic_auth.empty())
      ctx.AddMetadata("authorization", "Basic " + base64(target_.basic_auth));
    for (const auto& [k, v] : headers_) ctx.AddMetadata(k, v);
  }

  Error rpc_error(const char* method, const grpc::Status& st) const {
    std::string msg = "remote cache " + name_ + ": " + method + ": " + code_name(st.error_code());
    if (!st.error_message().empty()) msg += ": " + st.error_message();
    return make_error(std::move(msg), hint_for(st.error_code()));
  }

  bool fits_batch(const Digest& d) const { return d.size + kBatchEntryOverhead <= batch_bytes_; }

  /// The transfers of `digests`: batches of blobs that fit one (when `batches`), and one job
  /// per other blob (ByteStream).
  std::vector<std::vector<size_t>> plan(const std::vector<Digest>& digests, bool batches) const {
    std::vector<std::vector<size_t>> jobs;
    std::vector<size_t> batch;
    int64_t bytes = 0;
    for (size_t i = 0; i < digests.size(); ++i) {
      int64_t cost = digests[i].size + kBatchEntryOverhead;
      if (!batches || !fits_batch(digests[i])) {
        jobs.push_back({i});
        continue;
      }
      if (bytes + cost > batch_bytes_) {
        jobs.push_back(std::move(batch));
        batch.clear();
        bytes = 0;
      }
      batch.push_back(i);
      bytes += cost;
    }
    if (!batch.empty()) jobs.push_back(std::move(batch));
    return jobs;
  }

  std::string blob_resource(const Digest& d) const {
    return (target_.instance.empty() ? "" : target_.instance + "/") + "blobs/" + d.hash + "/" +
           std::to_string(d.size);
  }

  Status batch_read(const std::vector<Digest>& digests, const std::vector<size_t>& items,
                    std::vector<std::optional<std::string>>& got) {
    grpc::ClientContext ctx;
    prepare(ctx);
    re::BatchReadBlobsRequest req;
    req.set_instance_name(target_.instance);
    std::map<Digest, size_t> index;
    for (size_t i : items) {
      *req.add_digests() = to_proto(digests[i]);
      index[digests[i]] = i;
    }
    re::BatchReadBlobsResponse res;
    grpc::Status st = cas_->BatchReadBlobs(&ctx, req, &res);
    if (st.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
      batch_read_ok_ = false;
      return rpc_error("BatchReadBlobs", st);
    }
    if (!st.ok()) return rpc_error("BatchReadBlobs", st);
    for (auto& r : *res.mutable_responses()) {
      auto it = index.find(Digest{r.digest().hash(), r.digest().size_bytes()});
      if (it == index.end()) continue;  // not asked for: ignored (the caller checks bytes anyway)
      auto code = grpc::StatusCode(r.status().code());
      if (code == grpc::StatusCode::NOT_FOUND) continue;
      if (code != grpc::StatusCode::OK)
        return rpc_error("BatchReadBlobs", grpc::Status(code, r.status().message()));
      got[it->second] = std::move(*r.mutable_data());
    }
    return {};
  }

  Status batch_write(const std::vector<const std::pair<Digest, std::string>*>& blobs,
                     const std::vector<size_t>& items) {
    grpc::ClientContext ctx;
    prepare(ctx);
    re::BatchUpdateBlobsRequest req;
    req.set_instance_name(target_.instance);
    for (size_t i : items) {
      auto* r = req.add_requests();
      *r->mutable_digest() = to_proto(blobs[i]->first);
      r->set_data(blobs[i]->second);
    }
    re::BatchUpdateBlobsResponse res;
    grpc::Status st = cas_->BatchUpdateBlobs(&ctx, req, &res);
    if (st.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
      batch_update_ok_ = false;
      return rpc_error("BatchUpdateBlobs", st);
    }
    if (!st.ok()) return rpc_error("BatchUpdateBlobs", st);
    for (const auto& r : res.responses())
      if (r.status().code() != int(grpc::StatusCode::OK))
        return rpc_error("BatchUpdateBlobs",
                         grpc::Status(grpc::StatusCode(r.status().code()),
                                      r.digest().hash() + ": " + r.status().message()));
    return {};
  }

  Status stream_read(const Digest& d, std::optional<std::string>& out) {
    grpc::ClientContext ctx;
    prepare(ctx);
    bs::ReadRequest req;
    req.set_resource_name(blob_resource(d));
    std::unique_ptr<grpc::ClientReader<bs::ReadResponse>> reader = bytestream_->Read(&ctx, req);
    std::string data;
    data.reserve(size_t(d.size));
    bs::ReadResponse res;
    bool too_long = false;
    while (reader->Read(&res)) {
      if (data.size() + res.data().size() > size_t(d.size)) {
        // More than the digest's size: a wrong answer, and not one to buffer without end.
        too_long = true;
        ctx.TryCancel();
        while (reader->Read(&res)) {
        }
        break;
      }
      data += res.data();
    }
    grpc::Status st = reader->Finish();
    if (too_long)
      return make_error("remote cache " + name_ + ": ByteStream.Read of " + d.hash +
                        " sent more than its " + std::to_string(d.size) + " bytes");
    if (st.error_code() == grpc::StatusCode::NOT_FOUND) return {};
    if (!st.ok()) return rpc_error("ByteStream.Read", st);
    out = std::move(data);
    return {};
  }

  Status stream_write(const std::pair<Digest, std::string>& blob) {
    const auto& [d, data] = blob;
    grpc::ClientContext ctx;
    prepare(ctx);
    bs::WriteResponse res;
    std::unique_ptr<grpc::ClientWriter<bs::WriteRequest>> writer = bytestream_->Write(&ctx, &res);
    std::string resource = (target_.instance.empty() ? "" : target_.instance + "/") + "uploads/" +
                           random_uuid() + "/blobs/" + d.hash + "/" + std::to_string(d.size);
    size_t offset = 0;
    do {
      size_t n = std::min(kWriteChunkBytes, data.size() - offset);
      bs::WriteRequest req;
      if (offset == 0) req.set_resource_name(resource);  // later requests may leave it out
      req.set_write_offset(int64_t(offset));
      req.set_data(data.data() + offset, n);
      req.set_finish_write(offset + n == data.size());
      // false: the server ended the call early, because it has the blob already (then
      // committed_size says so) or on an error; Finish tells which.
      if (!writer->Write(req)) break;
      offset += n;
    } while (offset < data.size());
    writer->WritesDone();
    grpc::Status st = writer->Finish();
    if (!st.ok()) return rpc_error("ByteStream.Write", st);
    // The whole blob, or -1: "already there" in REAPI's later words.
    if (res.committed_size() != d.size && res.committed_size() != -1)
      return make_error("remote cache " + name_ + ": ByteStream.Write of " + d.hash +
                        " committed " + std::to_string(res.committed_size()) + " of " +
                        std::to_string(d.size) + " bytes");
    return {};
  }

  const RemoteOptions opt_;
  const std::string name_;
  const Target target_;
  const std::vector<std::pair<std::string, std::string>> headers_;
  int64_t batch_bytes_ = kDefaultBatchBytes;  // set once by handshake(), before any sharing
  // Whether the server has BatchReadBlobs / BatchUpdateBlobs (cleared on UNIMPLEMENTED).
  std::atomic<bool> batch_read_ok_{true};
  std::atomic<bool> batch_update_ok_{true};
  std::unique_ptr<re::ContentAddressableStorage::Stub> cas_;
  std::unique_ptr<re::ActionCache::Stub> ac_;
  std::unique_ptr<re::Capabilities::Stub> caps_;
  std::unique_ptr<bs::ByteStream::Stub> bytestream_;
};

/// gRPC logs to stderr on its own (a failed TLS handshake, a refused connection), which would
/// land in the middle of lavabuild's terminal output; every failure reaches the caller as a
/// status anyway. Its log stays on when asked for with GRPC_VERBOSITY or GRPC_TRACE.
void quiet_grpc_log() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (std::getenv("GRPC_VERBOSITY") || std::getenv("GRPC_TRACE")) return;
    gpr_set_log_function([](gpr_log_func_args*) {});
  });
}

Result<std::unique_ptr<RemoteCache>> open(const RemoteOptions& opt) {
  quiet_grpc_log();
  std::string name = strip_credentials(opt.url);
  auto target = parse_target(opt.url, name);
  if (!target) return target.error();
  auto headers = to_metadata(opt.headers, name);
  if (!headers) return headers.error();
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (target->tls) {
    grpc::SslCredentialsOptions ssl;
    // The system's roots (Debian's ca-certificates bundle) unless a CA file is given; with
    // neither, gRPC's own default.
    std::string ca = opt.ca_file;
    if (ca.empty() && std::ifstream("/etc/ssl/certs/ca-certificates.crt"))
      ca = "/etc/ssl/certs/ca-certificates.crt";
    if (!ca.empty()) {
      auto pem = read_pem(ca, name);
      if (!pem) return pem.error();
      ssl.pem_root_certs = *pem;
    }
    creds = grpc::SslCredentials(ssl);
  } else {
    creds = grpc::InsecureChannelCredentials();
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxReceiveBytes);
  args.SetMaxSendMessageSize(kMaxReceiveBytes);
  args.SetString(GRPC_ARG_PRIMARY_USER_AGENT_STRING,
                 opt.tool_version.empty() ? "lavabuild" : "lavabuild/" + opt.tool_version);
  auto channel = grpc::CreateCustomChannel(target->authority, creds, args);
  auto cache =
      std::make_unique<GrpcCache>(opt, name, std::move(*target), std::move(*headers), channel);
  if (Status s = cache->handshake(); !s.ok()) return s.error();
  return std::unique_ptr<RemoteCache>(std::move(cache));
}

}  // namespace
}  // namespace lb::remote

/// The module's entry point (grpc_loader.cpp): the cache, or nullptr with *error set.
extern "C" lb::remote::RemoteCache* lavabuild_open_grpc_cache(
    const lb::remote::RemoteOptions* options, lb::Error* error) {
  auto r = lb::remote::open(*options);
  if (!r) {
    *error = r.error();
    return nullptr;
  }
  return std::move(*r).release();
}
