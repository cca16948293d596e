#include "engine/lock_files.hpp"

#include <charconv>
#include <optional>

#include "graph/graph.hpp"
#include "util/fs.hpp"

namespace lb::engine {

namespace {

/// The index's sha256 of `d`'s file when a lock may use it without downloading: the file is
/// remote and any --hash pins of its project accept that hash.
bool index_hash_usable(const Planned& d) {
  if (d.file.sha256.empty() || !local_path_of(d.file.url).empty()) return false;
  return d.allowed_hashes.empty() || d.allowed_hashes.count("sha256:" + d.file.sha256);
}

std::optional<uint64_t> content_length(const net::Response& r) {
  if (r.status < 200 || r.status >= 300) return std::nullopt;
  // A length of encoded bytes is not the file's size.
  if (auto enc = r.headers.find("content-encoding");
      enc != r.headers.end() && !enc->second.empty() && enc->second != "identity")
    return std::nullopt;
  auto it = r.headers.find("content-length");
  if (it == r.headers.end()) return std::nullopt;
  const std::string& s = it->second;
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return n;
}

}  // namespace

Result<std::vector<LockedDigest>> lock_digests(Context& ctx, Fetcher& fetcher,
                                               std::vector<Planned>& dists) {
  std::vector<LockedDigest> out(dists.size());
  std::vector<size_t> to_fetch, to_head;
  for (size_t i = 0; i < dists.size(); ++i) {
    Planned& d = dists[i];
    if (d.source && d.source->ref.kind != SourceRef::Kind::archive) continue;  // by revision/path
    if (d.source) {  // the archive was fetched while resolving: its bytes are in the store
      std::string sha = d.source->digest.substr(d.source->digest.find(':') + 1);
      out[i] = {sha, fs::stat_path(ctx.store->blob_path(sha, false)).size};
      continue;
    }
    if (std::string sha = fetcher.cached_sha(d.file); !sha.empty()) {
      d.sha256 = sha;
      out[i] = {sha, fs::stat_path(ctx.store->blob_path(sha, false)).size};
      // Pins are checked against the stored bytes, as after a download.
      if (auto st = check_pinned(d, *ctx.store); !st.ok()) return st.error();
    } else if (index_hash_usable(d) && ctx.store->has_blob(d.file.sha256, false)) {
      d.sha256 = d.file.sha256;  // the same bytes, fetched from another URL
      out[i] = {d.sha256, fs::stat_path(ctx.store->blob_path(d.sha256, false)).size};
    } else if (index_hash_usable(d) && d.file.size) {
      d.sha256 = d.file.sha256;
      out[i] = {d.sha256, *d.file.size};
    } else if (index_hash_usable(d) && !ctx.opt.offline) {
      to_head.push_back(i);
    } else {
      to_fetch.push_back(i);
    }
  }
  // The network and fetches follow: let other processes have the store's index meanwhile.
  ctx.end_reads();
  // One HEAD per file, all in parallel over reused connections: the size without the body.
  if (!to_head.empty()) {
    std::vector<net::Request> heads;
    for (size_t i : to_head) {
      net::Request req(dists[i].file.url);
      req.head = true;
      req.compressed = false;
      heads.push_back(std::move(req));
    }
    auto responses = ctx.http->fetch_all(heads);
    for (size_t k = 0; k < to_head.size(); ++k) {
      Planned& d = dists[to_head[k]];
      auto size = responses[k].ok() ? content_length(*responses[k]) : std::nullopt;
      if (!size) {  // no usable answer (405, no Content-Length, ...): download it instead
        to_fetch.push_back(to_head[k]);
        continue;
      }
      d.sha256 = d.file.sha256;
      out[to_head[k]] = {d.sha256, *size};
    }
  }
  if (to_fetch.empty()) return out;

  // What must be hashed here: fetched (downloads batched first) and checked in parallel.
  std::vector<net::IndexFile> files;
  for (size_t i : to_fetch) files.push_back(dists[i].file);
  fetcher.prefetch(files);
  graph::Graph g;
  for (size_t i : to_fetch) {
    graph::Step s;
    s.kind = graph::StepKind::fetch;
    s.package = dists[i].name;
    s.run = [&ctx, &fetcher, &dists, &out, i]() -> Status {
      Planned& d = dists[i];
      bool ran = false;
      LB_ASSIGN(d.sha256, fetcher.fetch(d.file, ran));
      LB_TRY(check_pinned(d, *ctx.store));
      out[i] = {d.sha256, fs::stat_path(ctx.store->blob_path(d.sha256, false)).size};
      return {};
    };
    g.add(std::move(s));
  }
  auto result = graph::execute(g, std::max(1, ctx.opt.jobs), {});
  if (result.failure) return result.failure->second;
  return out;
}

}  // namespace lb::engine
