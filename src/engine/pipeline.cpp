#include "engine/pipeline.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>

#include "engine/bytecode.hpp"
#include "engine/env_state.hpp"
#include "graph/graph.hpp"
#include "lavabuild/version.hpp"
#include "net/url.hpp"
#include "pep/name.hpp"
#include "pep/tags.hpp"
#include "remote/layer.hpp"
#include "source/tree.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/strings.hpp"
#include "vcs/vcs.hpp"

namespace lb::engine {

namespace {

constexpr const char* kVersion = "lavabuild " LAVABUILD_VERSION;

/// The store seen as the wheel reader's sink and the installer's source.
class StoreBlobs : public wheel::BlobSink, public env::BlobSource {
 public:
  explicit StoreBlobs(store::Store& s) : s_(s) {}
  Result<std::string> put_blob(std::string_view content, bool executable) override {
    return s_.put_blob(content, executable);
  }
  Result<std::string> put_blob_hashed(std::string_view content, bool executable,
                                      const std::string& sha) override {
    return s_.put_blob_hashed(content, executable, sha);
  }
  std::string blob_path(const std::string& sha, bool executable) const override {
    return s_.blob_path(sha, executable);
  }

 private:
  store::Store& s_;
};

/// The file name a URL or a plain path ends in.
std::string url_basename(const std::string& url) {
  return net::is_url(url) ? net::url_filename(url) : fs::basename(url);
}

/// The "#sha256=<hex>" of a URL, lower-cased; empty if none.
std::string fragment_sha256(const std::string& url) {
  std::string frag = net::url_fragment(url);
  return starts_with(frag, "sha256=") ? to_lower(frag.substr(7)) : "";
}

graph::Step new_step(graph::StepKind kind, const std::string& package, const std::string& label) {
  graph::Step s;
  s.kind = kind;
  s.package = package;
  s.label = label;
  return s;
}

std::string unpack_key(const std::string& sha, const std::string& filename) {
  return KeyHasher("lavabuild.unpack.v1")
      .field("wheel_sha256", sha)
      .field("filename", filename)
      .hex();
}

std::string link_key(const Context& ctx, const Planned& d, const std::string& unpack) {
  return KeyHasher("lavabuild.link.v1")
      .field("unpack", unpack)
      .field("interpreter", ctx.python.key)
      .field("link_mode", ctx.opt.link_mode)
      .field("requested", d.requested ? "1" : "0")
      .field("direct_url", d.direct_url.url)
      .field("bytecode", bytecode_target(ctx).describe())
      .hex();
}

}  // namespace

Status check_pinned(const Planned& d, store::Store& store) {
  std::string path = store.blob_path(d.sha256, false);
  if (!d.allowed_hashes.empty() && !d.allowed_hashes.count("sha256:" + d.sha256)) {
    // pip also accepts sha384 and sha512 pins: compute those only when they are asked for.
    bool matched = false;
    for (const auto& want : d.allowed_hashes) {
      auto colon = want.find(':');
      std::string algo = want.substr(0, colon);
      if (algo == "sha256" || colon == std::string::npos) continue;
      auto got = digest_file_hex(path, algo);
      if (got.ok() && "" + algo + ":" + *got == want) matched = true;
    }
    if (!matched) {
      std::vector<std::string> want(d.allowed_hashes.begin(), d.allowed_hashes.end());
      return make_error("hash mismatch for " + d.file.filename + " (" + d.origin + "): expected " +
                            join(want, " or ") + ", got sha256:" + d.sha256,
                        "the file differs from what was pinned; do not install it unless the "
                        "new hash is trusted");
    }
  }
  if (d.expected_size) {
    uint64_t size = fs::stat_path(path).size;
    if (size != *d.expected_size)
      return make_error("size mismatch for " + d.file.filename + " (" + d.origin + "): expected " +
                        std::to_string(*d.expected_size) + " bytes, got " + std::to_string(size));
  }
  return {};
}

Status Pipeline::use_lock(const std::string& path) {
  lock_path_ = fs::absolute(path);
  auto text = fs::read_file(lock_path_);
  if (!text.ok()) return make_error("cannot read lock file " + path, "check the path");
  LB_ASSIGN(auto l, lock::parse_pylock(*text, path));
  lock_ = std::move(l);
  ctx_.reqs.files_read.push_back(lock_path_);
  return {};
}

Status Pipeline::load_inputs() {
  // A PEP 751 lock: pylock.toml / pylock.NAME.toml, or any file that starts like one.
  bool is_lock = false;
  if (ctx_.opt.inputs.size() == 1) {
    const std::string& in = ctx_.opt.inputs[0];
    is_lock = ends_with(in, ".toml");
    if (!is_lock)
      if (auto head = fs::read_file(in); head.ok())
        is_lock =
            starts_with(*head, "lock-version") || head->find("\nlock-version") != std::string::npos;
  }
  if (is_lock) return use_lock(ctx_.opt.inputs[0]);
  auto getenv = [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
  LB_ASSIGN(ctx_.reqs, reqfile::parse_files(ctx_.opt.inputs, ctx_.opt.constraints, getenv));
  for (const auto& w : ctx_.reqs.warnings) ctx_.out->warn(w.loc.to_string() + ": " + w.message);
  if (ctx_.opt.require_hashes) ctx_.reqs.options.require_hashes = true;
  return check_supported_options();
}

Status Pipeline::check_supported_options() {
  // Options lavabuild does not need: warned about, never dropped silently.
  const auto& o = ctx_.reqs.options;
  for (const auto& h : o.trusted_hosts)
    ctx_.out->warn("--trusted-host " + h +
                   " has no effect: lavabuild always verifies TLS (set SSL_CERT_FILE for a private "
                   "CA); plain http:// URLs work without it");
  return {};
}

std::string Pipeline::compute_stamp() const {
  KeyHasher h("lavabuild.stamp.v1");
  h.field("lavabuild", kVersion).field("interpreter", ctx_.python.key);
  for (const auto& f : ctx_.reqs.files_read) {
    auto content = fs::read_file(f);
    h.field("file", f).field("content", content.ok() ? sha256_hex(*content) : "missing");
  }
  const auto& o = ctx_.opt;
  h.field("index_url", o.index_url.value_or(""));
  if (o.default_index_url) h.field("pip_index_url", *o.default_index_url);
  for (const auto& u : o.extra_index_urls) h.field("extra_index_url", u);
  for (const auto& f : o.find_links) h.field("find_links", f);
  // A find-links directory gains files without any requirement file changing.
  std::vector<std::string> dirs = ctx_.reqs.options.find_links;
  dirs.insert(dirs.end(), o.find_links.begin(), o.find_links.end());
  for (const auto& d : dirs) {
    std::string local = local_path_of(d);
    if (local.empty()) continue;
    // Each archive's size and mtime: a wheel rewritten in place under the same name counts.
    auto names = fs::list_dir(local);
    if (!names.ok()) continue;
    for (const auto& n : *names) {
      auto st = fs::stat_path(local + "/" + n);
      h.field("find_links_file", n).field("size", int64_t(st.size)).field("mtime", st.mtime_ns);
    }
  }
  // What the files say after ${VAR} expansion: a changed variable changes the stamp.
  const auto& fo = ctx_.reqs.options;
  h.field("file_index_url", fo.index_url.value_or(""));
  for (const auto& u : fo.extra_index_urls) h.field("file_extra_index_url", u);
  h.field("file_no_index", fo.no_index).field("file_pre", fo.pre);
  for (const auto* list : {&ctx_.reqs.requirements, &ctx_.reqs.constraints})
    for (const auto& e : *list) {
      h.field("entry", e.req.to_string()).field("link", e.link);
      for (const auto& x : e.hashes) h.field("hash", x);
    }
  for (const auto& e : ctx_.reqs.requirements) {
    std::string link = !e.link.empty() ? e.link : e.req.url;
    if (e.kind == reqfile::EntryKind::vcs || vcs::is_vcs_url(link)) {
      // A branch or tag may have moved: only a full commit id (or --offline) can be a no-op.
      auto u = vcs::parse_url(link);
      bool immutable = u.ok() && u->rev_is_immutable();
      if (!immutable && !ctx_.opt.offline)
        h.field("vcs_moving", int64_t(std::chrono::system_clock::now().time_since_epoch().count()));
      continue;
    }
    std::string local = local_path_of(link);
    if (local.empty()) continue;
    if (fs::is_dir(local)) {
      // Every file's stat: an edit anywhere in a local project makes the run look closer.
      auto fp = source::stat_fingerprint(local);
      h.field("tree", link).field("fingerprint", fp.ok() ? *fp : "unreadable");
    } else {
      auto st = fs::stat_path(local);
      h.field("path", link).field("size", int64_t(st.size)).field("mtime", st.mtime_ns);
    }
  }
  h.field("build_options", ctx_.opt.build_timeout).field("recipes", ctx_.opt.recipes_dir);
  for (const auto& [k, v] : ctx_.opt.config_settings) h.field("config", k + "=" + v);
  for (const auto& n : ctx_.opt.no_binary) h.field("no_binary", n);
  for (const auto& n : ctx_.opt.only_binary) h.field("only_binary", n);
  if (!ctx_.opt.recipes_dir.empty()) {  // every recipe and patch file, at any depth
    auto fp = source::stat_fingerprint(ctx_.opt.recipes_dir);
    h.field("recipes_fingerprint", fp.ok() ? *fp : "unreadable");
  }
  for (const auto& [k, v] : build_env_vars({})) h.field("build_env", k + "=" + v);
  h.field("no_index", o.no_index).field("pre", o.pre).field("seed", o.seed);
  h.field("link_mode", o.link_mode).field("require_hashes", o.require_hashes);
  h.field("bytecode", bytecode_target(ctx_).describe());
  h.field("output", fs::absolute(o.output));
  return h.hex();
}

Result<Resolved> Pipeline::resolve() {
  if (lock_) return resolve_lock();
  return resolve_requirements();
}

Result<Resolved> Pipeline::resolve_lock() {
  Resolved r;
  std::string lock_dir = fs::dirname(lock_path_);
  auto py = pep::Version::parse(ctx_.python.version);
  if (!lock_->requires_python.empty() && py.ok()) {
    auto spec = pep::SpecifierSet::parse(lock_->requires_python);
    if (spec.ok() && !spec->contains(*py, true))
      return make_error(lock_path_ + ": the lock requires Python " + lock_->requires_python +
                            " but the interpreter is " + ctx_.python.version,
                        "pass a matching --python");
  }
  if (!lock_->environments.empty()) {
    bool any = false;
    for (const auto& env_marker : lock_->environments) {
      auto m = pep::Marker::parse(env_marker);
      if (m.ok() && m->evaluate(ctx_.python.markers)) any = true;
    }
    if (!any)
      return make_error(lock_path_ + ": the lock is for " + join(lock_->environments, " or ") +
                            ", which this interpreter (" + ctx_.python.executable + ") is not",
                        "lock again for this environment, or pass the right --python");
  }
  for (const auto& p : lock_->packages) {
    if (!lock::selected(*lock_, p, ctx_.python.markers)) continue;  // PEP 751 markers
    const lock::FileRef* best = nullptr;
    size_t best_rank = 0;
    for (const auto& w : p.wheels) {
      auto rank =
          ctx_.wheel_rank(w.name.empty() ? url_basename(w.url.empty() ? w.path : w.url) : w.name);
      if (rank && (!best || *rank < best_rank)) {
        best = &w;
        best_rank = *rank;
      }
    }
    if (p.vcs || p.directory || p.archive || (!best && p.sdist && !ctx_.opt.no_build)) {
      LB_ASSIGN(Planned d, locked_source(p, lock_dir));
      r.dists.push_back(std::move(d));
      continue;
    }
    if (!best)
      return make_error(lock_path_ + ": no wheel of " + p.name + " " + p.version +
                            " fits this interpreter (" + ctx_.python.tags.front().to_string() + ")",
                        "lock again for this platform, or pass another --python");
    Planned d;
    d.name = pep::normalize_name(p.name);
    d.version = p.version;
    d.file.filename =
        best->name.empty() ? url_basename(best->url.empty() ? best->path : best->url) : best->name;
    if (!best->url.empty()) {
      // Local files in a lock are `path`s (relative to the lock, as `lavabuild lock` writes
      // them); a file: URL could point anywhere on this machine.
      if (starts_with(best->url, "file:"))
        return make_error(
            lock_path_ + ": package " + p.name + " names a local file by URL (" + best->url + ")",
            "a lock gives local files as `path = \"...\"`; lock again with "
            "`lavabuild lock`");
      d.file.url = best->url;
    } else {
      std::string path =
          best->path.front() == '/' ? best->path : fs::join_path(lock_dir, best->path);
      d.file.url = net::path_to_file_url(path);
    }
    d.file.sha256 = best->sha256;
    d.allowed_hashes = {"sha256:" + best->sha256};
    d.expected_size = best->size;
    d.file.size = best->size;  // the download stops there
    d.origin = lock_path_;
    d.dependencies = p.dependencies;
    r.dists.push_back(std::move(d));
  }
  std::sort(r.dists.begin(), r.dists.end(), [](auto& a, auto& b) { return a.name < b.name; });
  return r;
}

namespace {
/// PEP 610 direct_url.json of a source installed by URL or path.
env::DirectUrl direct_url_of(const SourceBuild& s, const std::string& archive_url) {
  env::DirectUrl du;
  switch (s.ref.kind) {
    case SourceRef::Kind::directory:
      du.url = net::path_to_file_url(s.ref.location);
      du.is_dir = true;
      du.editable = s.ref.editable;
      break;
    case SourceRef::Kind::archive:
      du.url = archive_url;
      du.sha256 = s.digest.substr(s.digest.find(':') + 1);
      break;
    case SourceRef::Kind::vcs:
      du.url = s.vcs_url;
      du.vcs = s.vcs_kind;
      du.commit_id = s.vcs_commit;
      du.requested_revision = s.vcs_requested;
      du.subdirectory = s.vcs_subdirectory;
      break;
  }
  return du;
}

/// A lock's `url`/`path` pair as a URL (paths relative to the lock's directory).
std::string locked_url(const std::string& url, const std::string& path,
                       const std::string& lock_dir) {
  if (!url.empty()) return url;
  return net::path_to_file_url(path.front() == '/' ? path : fs::join_path(lock_dir, path));
}
}  // namespace

Result<Planned> Pipeline::locked_source(const lock::Package& p, const std::string& lock_dir) {
  Planned d;
  d.name = pep::normalize_name(p.name);
  d.version = p.version;
  d.origin = lock_path_;
  d.dependencies = p.dependencies;
  SourceRef ref;
  ref.origin = lock_path_ + " (" + p.name + ")";
  ref.name = d.name;
  ref.config_settings = ctx_.opt.config_settings;
  std::string archive_url;
  if (p.vcs) {
    const auto& v = *p.vcs;
    if (v.type != "git" && v.type != "bzr")
      return make_error(ref.origin + ": " + v.type + " checkouts are not supported",
                        "lavabuild builds from git and bzr; lock a wheel or an sdist instead");
    std::string url = locked_url(v.url, v.path, lock_dir);
    // The commit itself: nothing to resolve, the mirror is fetched only when it lacks it.
    std::string rev = v.type == "git" ? v.commit_id : "revid:" + v.commit_id;
    for (size_t at; (at = rev.find('@')) != std::string::npos;) rev.replace(at, 1, "%40");
    ref.kind = SourceRef::Kind::vcs;
    ref.location = (starts_with(url, "bzr+") ? "" : v.type + "+") + url + "@" + rev +
                   (v.subdirectory.empty() ? "" : "#subdirectory=" + v.subdirectory);
  } else if (p.directory) {
    const auto& dir = *p.directory;
    ref.kind = SourceRef::Kind::directory;
    ref.location = dir.path.front() == '/' ? dir.path : fs::join_path(lock_dir, dir.path);
    if (!dir.subdirectory.empty()) ref.location = fs::join_path(ref.location, dir.subdirectory);
    ref.location = fs::absolute(ref.location);
    ref.editable = dir.editable;
  } else {
    ref.kind = SourceRef::Kind::archive;
    const bool sdist = !p.archive;
    std::string url = sdist ? locked_url(p.sdist->url, p.sdist->path, lock_dir)
                            : locked_url(p.archive->url, p.archive->path, lock_dir);
    ref.archive.url = url;
    ref.archive.filename = sdist && !p.sdist->name.empty() ? p.sdist->name : url_basename(url);
    ref.archive.sha256 = sdist ? p.sdist->sha256 : p.archive->sha256;
    uint64_t size = sdist ? p.sdist->size : p.archive->size;
    if (size) ref.archive.size = size;
    ref.location = url;
    if (!sdist) archive_url = url;
    ref.hashes = {"sha256:" + ref.archive.sha256};  // checked before anything is unpacked
  }
  LB_ASSIGN(d.source, builder_.prepare(ref));
  if (ref.kind != SourceRef::Kind::archive || !archive_url.empty())
    d.direct_url = direct_url_of(*d.source, archive_url);
  d.requested = false;
  d.file = ref.archive;
  if (ref.kind != SourceRef::Kind::archive) {
    d.file.filename = d.name + "-" + d.version + " (source)";
    d.file.url = ref.location;
  }
  return d;
}

Result<DirectDist> Pipeline::direct_source(const reqfile::Entry& e, const std::string& link,
                                           const std::string& where) {
  if (ctx_.opt.no_build)
    return make_error(where + ": '" + e.text +
                          "' is a source, and build requirements come as "
                          "wheels only",
                      "put a wheel of it on the index or in -f/--find-links");
  SourceRef ref;
  ref.origin = where;
  ref.name = e.req.name.empty() ? "" : pep::normalize_name(e.req.name);
  ref.editable = e.kind == reqfile::EntryKind::editable;
  ref.build_for_metadata = true;
  ref.config_settings = ctx_.opt.config_settings;
  ref.config_settings.insert(ref.config_settings.end(), e.config_settings.begin(),
                             e.config_settings.end());
  if (e.kind == reqfile::EntryKind::vcs || vcs::is_vcs_url(link)) {
    ref.kind = SourceRef::Kind::vcs;
    ref.location = link;
  } else if (std::string local = local_path_of(link); !local.empty() && fs::is_dir(local)) {
    ref.kind = SourceRef::Kind::directory;
    ref.location = fs::absolute(local);
  } else if (is_source_archive(url_basename(link))) {
    if (ref.editable)
      return make_error(where + ": '" + e.text + "': an archive cannot be installed editable",
                        "unpack it and use `-e DIR`");
    ref.kind = SourceRef::Kind::archive;
    ref.archive.filename = url_basename(link);
    ref.archive.url = local.empty() ? net::strip_fragment(link) : net::path_to_file_url(local);
    ref.archive.sha256 = fragment_sha256(link);
    ref.location = ref.archive.url;
    ref.hashes = e.hashes;  // --hash: checked before anything is unpacked
    if (!local.empty() && !fs::exists(local))
      return make_error(where + ": " + local + ": no such file", "check the path");
  } else if (!local.empty() && !fs::exists(local)) {
    return make_error(where + ": " + local + ": no such file or directory", "check the path");
  } else {
    return make_error(where + ": '" + e.text + "' is neither a wheel, a source archive " +
                          "(.tar.gz, .zip, ...) nor a directory",
                      "name a .whl, an sdist or a project directory");
  }
  LB_ASSIGN(auto src, builder_.prepare(ref));
  LB_ASSIGN(std::string meta, builder_.metadata(*src));
  DirectDist d;
  d.name = src->name;
  auto v = pep::Version::parse(src->version);
  if (!v.ok()) return v.error().context(where);
  d.version = *v;
  d.source = src;
  d.metadata = meta;
  env::DirectUrl du = direct_url_of(*src, ref.archive.url);
  d.requested_url = du.url;
  d.direct_url = du;
  d.file = ref.archive;
  if (ref.kind != SourceRef::Kind::archive) {
    d.file.filename = d.name + "-" + src->version + " (source)";
    d.file.url = ref.location;
  }
  return d;
}

namespace {
/// Whether `text` has `word` with no name character (letter, digit, '-', '_', '.') on either
/// side: "six" in "six==1.0", not in "sixty".
bool names_word(const std::string& text, const std::string& word) {
  auto name_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  };
  for (size_t at = text.find(word); !word.empty() && at != std::string::npos;
       at = text.find(word, at + 1)) {
    bool before = at > 0 && name_char(text[at - 1]);
    bool after = at + word.size() < text.size() && name_char(text[at + word.size()]) &&
                 text[at + word.size()] != '.';
    if (!before && !after) return true;
  }
  return false;
}
}  // namespace

Result<Resolved> Pipeline::resolve_requirements() {
  std::vector<pep::Requirement> roots;
  std::map<std::string, std::set<std::string>> hashes;
  std::map<std::string, std::string> origins;
  std::vector<std::string> root_origins;  // file:line of each of `roots` from the files
  bool hash_mode = ctx_.reqs.hash_checking();
  if (hash_mode) LB_TRY(reqfile::check_hash_mode(ctx_.reqs));

  // Sources named directly (directories, archives, VCS URLs): fetched, digested and, when their
  // metadata needs it, built, all at once on the executor's threads (builds run in parallel).
  auto is_source = [](const reqfile::Entry& e, const std::string& link) {
    return e.kind == reqfile::EntryKind::vcs || e.kind == reqfile::EntryKind::editable ||
           (!link.empty() && !ends_with(url_basename(link), ".whl"));
  };
  std::vector<const reqfile::Entry*> source_entries;
  for (const auto& e : ctx_.reqs.requirements)
    if (is_source(e, !e.link.empty() ? e.link : e.req.url)) source_entries.push_back(&e);
  std::vector<std::optional<Result<DirectDist>>> sources(source_entries.size());
  (void)graph::parallel_for(sources.size(), ctx_.opt.jobs, [&](size_t k) -> Status {
    const reqfile::Entry& e = *source_entries[k];
    sources[k].emplace(direct_source(e, !e.link.empty() ? e.link : e.req.url, e.loc.to_string()));
    return {};
  });
  for (const auto& e : ctx_.reqs.requirements) {
    std::string where = e.loc.to_string();
    pep::Requirement req = e.req;
    std::string link = !e.link.empty() ? e.link : req.url;
    if (is_source(e, link)) {
      size_t k = size_t(std::find(source_entries.begin(), source_entries.end(), &e) -
                        source_entries.begin());
      LB_ASSIGN(DirectDist d, std::move(*sources[k]));
      req.name = d.name;
      req.specifier = *pep::SpecifierSet::parse("==" + d.version.to_string());
      req.url.clear();
      provider_.add_direct(std::move(d));
    } else if (!link.empty()) {
      std::string filename = url_basename(link);
      auto wf = pep::WheelFilename::parse(filename);
      if (!wf.ok()) return wf.error().context(where);
      auto v = pep::Version::parse(wf->version);
      if (!v.ok()) return v.error().context(where);
      DirectDist d;
      d.name = pep::normalize_name(wf->name);
      if (!req.name.empty() && pep::normalize_name(req.name) != d.name)
        return make_error(where + ": '" + e.text + "' names " + req.name + " but the wheel is " +
                          wf->name);
      d.version = *v;
      d.file.filename = filename;
      std::string local = local_path_of(link);
      d.file.url = local.empty() ? net::strip_fragment(link) : net::path_to_file_url(local);
      d.file.sha256 = fragment_sha256(link);
      d.requested_url = d.file.url;
      if (!ctx_.wheel_rank(filename))
        return make_error(where + ": " + filename + " is not compatible with this interpreter",
                          "it supports " + ctx_.python.tags.front().to_string() + " ... " +
                              ctx_.python.tags.back().to_string());
      if (!local.empty() && !fs::exists(local))
        return make_error(where + ": " + local + ": no such file", "check the path");
      req.name = d.name;
      auto spec = pep::SpecifierSet::parse("==" + v->to_string());
      req.specifier = *spec;
      req.url.clear();
      provider_.add_direct(std::move(d));
    }
    std::string name = pep::normalize_name(req.name);
    for (const auto& h : e.hashes) hashes[name].insert(h);
    origins.emplace(name, where);
    root_origins.push_back(where);
    roots.push_back(std::move(req));
  }
  // pip accepts the pin and hash of a requirement from a constraints file.
  for (const auto& c : ctx_.reqs.constraints)
    for (const auto& h : c.hashes) hashes[pep::normalize_name(c.req.name)].insert(h);
  if (ctx_.opt.seed) {  // pip (and setuptools where venv seeds it): index, else bundled
    std::set<std::string> already;
    for (const auto& r : roots) already.insert(pep::normalize_name(r.name));
    LB_ASSIGN(auto seeds, provider_.seed_requirements(already));
    roots.insert(roots.end(), seeds.begin(), seeds.end());
  }
  if (roots.empty()) {       // as `uv pip sync`: an env without packages (pip installs nothing)
    if (!ctx_.opt.no_build)  // (not a build env that needs nothing)
      ctx_.out->warn(join(ctx_.opt.inputs, ", ") +
                     (ctx_.opt.inputs.size() == 1 ? " names" : " name") +
                     " no requirements: the result has no packages");
    return Resolved{};
  }
  provider_.set_hashes(hashes);
  fetcher_.set_pins(hashes, origins);  // checked before a file enters the store

  resolve::Options ro;
  ro.env = ctx_.python.markers;
  ro.allow_pre = ctx_.opt.pre || ctx_.reqs.options.pre;
  ro.preferences = preferences;
  for (const auto& c : ctx_.reqs.constraints) ro.constraints.push_back(c.req);

  std::vector<std::string> names;
  for (const auto& r : roots) names.push_back(pep::normalize_name(r.name));
  ctx_.out->resolve_started(std::to_string(roots.size()) +
                            (roots.size() == 1 ? " requirement from " : " requirements from ") +
                            ctx_.sources);
  if (names.size() > 1)
    ctx_.out->resolving("fetching index pages of " + std::to_string(names.size()) + " projects");
  (void)ctx_.index->prefetch(names);
  auto resolution_or = resolve::resolve(roots, provider_, ro);
  if (!resolution_or.ok()) {
    // A requirement nothing on the indexes can meet (no project, only sdists, other tags,
    // Requires-Python) is said as such, with its file:line, not as a resolver conflict.
    for (const auto& r : roots)
      if (auto why = provider_.unavailable(r, origins[pep::normalize_name(r.name)])) return *why;
    Error e = resolution_or.error();
    e.message += provider_.notes_for(e.message, roots);
    // Where the requirements the explanation names come from.
    std::string from;
    for (size_t k = 0; k < roots.size() && k < root_origins.size(); ++k)
      if (names_word(e.message, roots[k].name) ||
          names_word(e.message, pep::normalize_name(roots[k].name)))
        from += "\n  " + roots[k].to_string() + " (" + root_origins[k] + ")";
    if (!from.empty()) e.message += "\nthe requirements involved:" + from;
    return e;
  }
  auto& resolution = *resolution_or;
  for (const auto& w : resolution.warnings) ctx_.out->warn(w);  // e.g. a yanked pin
  for (const auto& w : provider_.unknown_extras(resolution)) ctx_.out->warn(w);  // as pip does

  Resolved out;
  std::vector<std::string> unhashed;
  for (const auto& p : resolution.packages) {
    if (p.name == kPythonPackage) continue;
    Planned d;
    d.name = pep::normalize_name(p.name);
    d.version = p.version.to_string();
    LB_ASSIGN(d.file, provider_.best_file(d.name, p.version));
    d.requested = std::find(names.begin(), names.end(), d.name) != names.end();
    if (auto dd = provider_.direct(d.name)) {
      d.direct_url.url = dd->requested_url;
      d.direct_url.sha256 = dd->file.sha256;
      if (dd->direct_url) d.direct_url = *dd->direct_url;
    }
    LB_ASSIGN(d.source, provider_.source_of(d.name, p.version));
    if (d.source) d.allowed_hashes.clear();  // the archive was checked when it was fetched
    if (auto h = hashes.find(d.name); h != hashes.end()) d.allowed_hashes = h->second;
    if (hash_mode && d.allowed_hashes.empty() && d.direct_url.url.empty())
      unhashed.push_back(d.name + "==" + d.version);
    d.origin = origins.count(d.name) ? origins[d.name] : "dependency";
    for (const auto& dep : p.dependencies)
      if (dep != kPythonPackage) d.dependencies.push_back(dep);
    out.dists.push_back(std::move(d));
  }
  if (!unhashed.empty())
    return make_error(
        "hash-checking mode: these dependencies have no --hash: " + join(unhashed, ", "),
        "pin every dependency with == and --hash=sha256:... (pip's rule), e.g. "
        "with `lavabuild lock`");
  std::sort(out.dists.begin(), out.dists.end(), [](auto& a, auto& b) { return a.name < b.name; });
  // A name -P or --reinstall-package gives that nothing resolved to is most likely mistyped.
  for (const auto& [option, given] :
       {std::pair{"-P/--upgrade-package", &ctx_.opt.upgrade_packages},
        std::pair{"--reinstall-package", &ctx_.opt.reinstall_packages}})
    for (const auto& n : *given)
      if (std::none_of(out.dists.begin(), out.dists.end(),
                       [&](const Planned& d) { return d.name == pep::normalize_name(n); }))
        ctx_.out->warn(std::string(option) + " " + n +
                       ": no distribution of that name is in the requirements; ignored");
  return out;
}

std::shared_ptr<wheel::UnpackedWheel> Pipeline::stored_unpack(const std::string& key,
                                                              std::string& why) {
  if (auto it = preloaded_.find("ac/" + key); it != preloaded_.end()) {
    why = it->second.why;
    return it->second.unpacked;
  }
  auto cached = ctx_.store->get("ac/" + key);
  if (!cached.ok() || !cached->has_value()) {
    why = "no stored unpack output for this wheel (key " + key.substr(0, 12) + ")";
    return nullptr;
  }
  return check_stored_unpack(**cached, why);
}

std::shared_ptr<wheel::UnpackedWheel> Pipeline::check_stored_unpack(std::string_view value,
                                                                    std::string& why) const {
  auto uw = wheel::deserialize_unpacked(value);
  bool complete = uw.ok();
  if (complete)
    for (const auto& m : uw->members)
      if (ctx_.store->blob_state(m.sha256, m.executable, int64_t(m.size)) !=
          store::BlobState::intact) {
        complete = false;  // missing, or changed since stored: unpack again
        break;
      }
  if (!complete) {
    why = "stored unpack output is incomplete (files missing from the store or changed)";
    return nullptr;
  }
  return std::make_shared<wheel::UnpackedWheel>(std::move(*uw));
}

bool Pipeline::unpacked_without_fetch(Planned& d) {
  const std::string& sha = d.file.sha256;
  // (A pinned size needs no check: the sha256 names the bytes the stored unpack came from.)
  if (d.source || sha.size() != 64) return false;
  if (!d.allowed_hashes.empty() && !d.allowed_hashes.count("sha256:" + sha)) return false;
  std::string key = unpack_key(sha, d.file.filename), why;
  auto uw = stored_unpack(key, why);
  if (!uw) return false;
  d.sha256 = sha;
  d.unpack_key = key;
  d.unpacked = std::move(uw);
  return true;
}

std::vector<std::string> Pipeline::stored_keys(const Resolved& r,
                                               const std::vector<env::InstalledDist>* old_dists,
                                               const BytecodeTarget& bytecode) {
  std::vector<std::string> keys;
  for (const Planned& d : r.dists) {
    std::string sha, filename;
    if (d.source) {
      if (d.source->wheel_sha.empty()) continue;  // built later: its key is not known yet
      sha = d.source->wheel_sha;
      filename = d.source->wheel_filename;
    } else {
      sha = fetcher_.cached_sha(d.file);
      filename = d.file.filename;
      if (sha.empty() && d.file.sha256.size() == 64 &&
          (d.allowed_hashes.empty() || d.allowed_hashes.count("sha256:" + d.file.sha256)))
        sha = d.file.sha256;  // as unpacked_without_fetch looks it up
      if (sha.empty()) continue;
    }
    std::string unpack = unpack_key(sha, filename);
    if (old_dists) {
      std::string link = link_key(ctx_, d, unpack);
      bool kept = std::any_of(old_dists->begin(), old_dists->end(), [&](const auto& o) {
        return o.link_key == link && pep::normalize_name(o.name) == d.name;
      });
      if (kept) continue;
    }
    keys.push_back("ac/" + unpack);
    if (bytecode.enabled()) keys.push_back("bytecode/" + bytecode_key(unpack, bytecode));
  }
  return keys;
}

std::shared_ptr<env::Bytecode> Pipeline::loaded_bytecode(const std::string& key,
                                                         const BytecodeTarget& bytecode) {
  if (auto it = preloaded_.find("bytecode/" + key); it != preloaded_.end())
    return it->second.bytecode;
  return load_bytecode(*ctx_.store, key, bytecode);
}

void Pipeline::prefetch_remote(const std::vector<std::string>& keys) {
  remote::Layer* layer = remote::layer_of(*ctx_.store);
  if (layer && layer->usable() && keys.size() > 1) layer->prefetch(keys);
}

void Pipeline::preload_stored(const std::vector<std::string>& keys,
                              const BytecodeTarget& bytecode) {
  std::vector<std::optional<std::string>> values(keys.size());
  for (size_t i = 0; i < keys.size(); ++i)
    if (auto v = ctx_.store->get(keys[i]); v.ok()) values[i] = std::move(*v);
  std::vector<Preloaded> out(keys.size());
  (void)graph::parallel_for(keys.size(), ctx_.opt.jobs, [&](size_t i) -> Status {
    if (!values[i]) {
      out[i].why = "no stored unpack output for this wheel (key " + keys[i].substr(3, 12) + ")";
    } else if (starts_with(keys[i], "ac/")) {
      out[i].unpacked = check_stored_unpack(*values[i], out[i].why);
    } else {
      out[i].bytecode = parse_stored_bytecode(*ctx_.store, *values[i], bytecode);
    }
    return {};
  });
  for (size_t i = 0; i < keys.size(); ++i) preloaded_[keys[i]] = std::move(out[i]);
}

void Pipeline::use_built_wheel(Planned& d) {
  const SourceBuild& s = *d.source;
  d.file = net::IndexFile{};
  d.file.filename = s.wheel_filename;
  d.file.sha256 = s.wheel_sha;
  d.file.url = net::path_to_file_url(ctx_.store->blob_path(s.wheel_sha, false));
  d.sha256 = s.wheel_sha;
  d.unpack_key = unpack_key(d.sha256, d.file.filename);
}

Status Pipeline::build_graph(Resolved& r, const std::string& final_dir, const std::string& work_dir,
                             std::vector<env::InstalledDist>* old_dists,
                             const std::vector<std::string>* old_drift, graph::Graph& g) {
  installed.assign(r.dists.size(), {});
  auto blobs = std::make_shared<StoreBlobs>(*ctx_.store);
  env::LinkMode mode = env::LinkMode::hardlink;
  env::parse_link_mode(ctx_.opt.link_mode, mode);
  auto fetched_early = provider_.fetched_during_resolution();
  const BytecodeTarget bytecode = bytecode_target(ctx_);
  std::vector<size_t> uncompiled;  // dists whose bytecode is not stored
  std::vector<int> uncompiled_unpacks;
  {
    auto keys = stored_keys(r, old_dists, bytecode);
    prefetch_remote(keys);
    preload_stored(keys, bytecode);
  }

  for (size_t i = 0; i < r.dists.size(); ++i) {
    Planned& d = r.dists[i];
    std::string label = d.name + " " + d.version;

    // A source whose wheel is known (built before, or while resolving) goes on like a wheel.
    if (d.source && !d.source->wheel_sha.empty()) use_built_wheel(d);

    // fetch
    graph::Step fetch = new_step(graph::StepKind::fetch, d.name, label);
    fetch.key = KeyHasher("lavabuild.fetch.v1")
                    .field("url", d.file.url)
                    .field("sha256", d.file.sha256)
                    .hex();
    d.sha256 = fetcher_.cached_sha(d.file);
    d.fetched_while_resolving = fetched_early.count(d.file.url) > 0;
    if (!d.sha256.empty()) {
      fetch.needs_run = false;
      fetch.reason = d.fetched_while_resolving
                         ? "fetched while resolving (its metadata was needed)"
                         : "wheel " + d.file.filename + " is in the store (sha256 " +
                               d.sha256.substr(0, 12) + ")";
    } else if (unpacked_without_fetch(d)) {
      fetch.needs_run = false;
      fetch.reason = "not needed: the unpacked files of " + d.file.filename + " (sha256 " +
                     d.sha256.substr(0, 12) + ", as the index says) are stored";
    } else {
      fetch.reason = "wheel " + d.file.filename + " is not in the store; fetching " + d.file.url;
    }
    fetch.run = [this, &d]() -> Status {
      bool ran = false;
      auto sha = fetcher_.fetch(d.file, ran);
      if (!sha.ok()) return lock_ ? sha.error().context(d.origin) : sha.error();  // names the lock
      d.sha256 = *sha;
      return {};
    };
    if (d.source && d.source->wheel_sha.empty()) {
      // The source was fetched (or read) while resolving; the build step makes the wheel.
      d.sha256.clear();
      fetch.needs_run = false;
      fetch.reason = "the source was read while resolving";
      fetch.run = [] { return Status{}; };
    }
    int fetch_id = d.fetch_step = g.add(std::move(fetch));
    int build_id = -1;
    if (d.source) {
      graph::Step build = new_step(graph::StepKind::build, d.name, label);
      build.deps = {fetch_id};
      build.key = d.source->key.empty() ? "(after the build env is made)" : d.source->key;
      build.needs_run = d.source->wheel_sha.empty();
      build.reason = d.source->built_while_resolving
                         ? "built while resolving (its metadata needed it): " + d.source->reason
                         : d.source->reason;
      build.run = [this, &d]() -> Status {
        LB_TRY(builder_.build(*d.source));
        use_built_wheel(d);
        // A lock (or the resolver) pinned a version: the source must build that one.
        auto wf = pep::WheelFilename::parse(d.file.filename);
        auto got = wf.ok() ? pep::Version::parse(wf->version) : pep::Version::parse("");
        auto want = pep::Version::parse(d.version);
        if (!d.version.empty() && got.ok() && want.ok() && !(*got == *want))
          return make_error(d.name + " " + d.version + " (" + d.origin + ") built as version " +
                                wf->version + " (" + d.file.filename + ")",
                            "the source changed since it was locked or resolved; lock again");
        return {};
      };
      build_id = d.build_step = g.add(std::move(build));
    }

    // Whether the existing env keeps this distribution as it is (same link key, files
    // intact): then nothing of it is loaded or checked in the store, and nothing is linked.
    auto link_key_of = [this, &d]() { return link_key(ctx_, d, d.unpack_key); };
    env::InstalledDist* old = nullptr;
    const std::string* old_problem = nullptr;
    if (old_dists)
      for (size_t k = 0; k < old_dists->size(); ++k)
        if (pep::normalize_name((*old_dists)[k].name) == d.name) {
          old = &(*old_dists)[k];
          old_problem = &(*old_drift)[k];
        }
    const bool forced = reinstall_all || reinstall.count(d.name) > 0;
    std::string drift;
    bool kept = false;
    if (!d.sha256.empty()) {
      d.unpack_key = unpack_key(d.sha256, d.file.filename);
      d.link_key = link_key_of();
      kept = old && old->link_key == d.link_key && !forced && (drift = *old_problem).empty();
    }

    // unpack
    graph::Step unpack = new_step(graph::StepKind::unpack, d.name, label);
    unpack.deps = {build_id >= 0 ? build_id : fetch_id};
    if (kept) {
      unpack.key = d.unpack_key;
      unpack.needs_run = false;
      unpack.reason =
          "not needed: the existing env has its files (key " + d.unpack_key.substr(0, 12) + ")";
    } else if (!d.sha256.empty()) {
      unpack.key = d.unpack_key;
      std::string why;
      if (!d.unpacked) d.unpacked = stored_unpack(d.unpack_key, why);
      if (d.unpacked) {
        unpack.needs_run = false;
        unpack.reason = "unpacked files are in the store (key " + d.unpack_key.substr(0, 12) + ")";
      } else {
        unpack.reason = why;
      }
    } else {
      unpack.key = d.source ? "(after the build)" : "(after fetch)";
      unpack.reason = d.source ? "the wheel is built first"
                               : "the wheel's content is not known until it is fetched";
    }
    unpack.run = [this, &d, blobs]() -> Status {
      // Hash and size checks happen on the bytes actually fetched, before anything is unpacked.
      LB_TRY(check_pinned(d, *ctx_.store));
      std::string path = ctx_.store->blob_path(d.sha256, false);
      if (d.unpack_key.empty()) d.unpack_key = unpack_key(d.sha256, d.file.filename);
      if (d.unpacked) return {};
      auto uw = wheel::unpack_wheel(path, d.file.filename, *blobs);
      if (!uw.ok()) return uw.error();
      for (const auto& w : uw->warnings) ctx_.out->warn(d.file.filename + ": " + w);
      ctx_.defer_put("ac/" + d.unpack_key, wheel::serialize_unpacked(*uw));
      d.unpacked = std::make_shared<wheel::UnpackedWheel>(std::move(*uw));
      return {};
    };
    // (A wheel used by its stored unpack alone is not in the store: its pinned sha256 named
    // that unpack, see unpacked_without_fetch.)
    if (!unpack.needs_run && !d.sha256.empty() && ctx_.store->has_blob(d.sha256, false) &&
        !check_pinned(d, *ctx_.store).ok()) {
      unpack.needs_run = true;  // the run function reports the mismatch
      unpack.reason = "the stored wheel does not match the pinned hash or size";
    }
    int unpack_id = g.add(std::move(unpack));
    if (bytecode.enabled() && !kept) {
      if (!d.unpack_key.empty())
        d.bytecode = loaded_bytecode(bytecode_key(d.unpack_key, bytecode), bytecode);
      if (!d.bytecode) {
        uncompiled.push_back(i);
        uncompiled_unpacks.push_back(unpack_id);
      }
    }

    // link
    graph::Step link = new_step(graph::StepKind::link, d.name, label);
    link.deps = {unpack_id};
    if (!d.unpack_key.empty()) {
      link.key = d.link_key;
      if (old && old->link_key == d.link_key && forced) {
        link.reason = "--reinstall";
      } else if (kept) {
        link.needs_run = false;
        link.reason = "unchanged in the existing env; its files stay as they are";
        // Moved, not copied (thousands of entries); `old` keeps its name and dist-info dir.
        std::vector<env::FileEntry> files = std::move(old->files);
        std::string files_json = std::move(old->files_json);
        old->files.clear();
        old->files_json.clear();
        installed[i] = *old;
        installed[i].files = std::move(files);
        installed[i].files_json = std::move(files_json);
      } else if (old && old->link_key == d.link_key) {
        link.reason = "repair: " + drift + " in the existing env since it was built";
        repaired.push_back(d.name + " (" + drift + ")");
      } else if (old) {
        link.reason = "the existing env has " + old->name + " " + old->version +
                      " from other inputs (link key changed)";
      } else {
        link.reason = "not in the existing env";
      }
    } else {
      link.key = d.source ? "(after the build)" : "(after fetch)";
      link.reason = !old ? "not in the existing env"
                    : d.source
                        ? "rebuilt from source: the wheel may differ"
                        : "the wheel may have changed; its content is not known until fetched";
    }
    link.run = [this, &d, i, blobs, mode, work_dir, final_dir, link_key_of]() -> Status {
      if (d.link_key.empty()) d.link_key = link_key_of();
      env::LinkReport report;
      auto inst = env::install_wheel(work_dir, final_dir, ctx_.python, *d.unpacked, *blobs, mode,
                                     d.requested, d.direct_url, report, d.bytecode.get());
      if (!inst.ok()) return inst.error().context(d.file.filename);
      inst->link_key = d.link_key;
      inst->digest = env::dist_digest(*inst);  // here, on the executor's threads
      std::lock_guard lock(link_mutex);
      installed[i] = std::move(*inst);
      link_report.linked += report.linked;
      link_report.copied += report.copied;
      if (report.fell_back_to_copy && !link_report.fell_back_to_copy) {
        link_report.fell_back_to_copy = true;
        link_report.fallback_reason = report.fallback_reason;
      }
      return {};
    };
    d.link_step = g.add(std::move(link));
  }
  preloaded_.clear();  // what the loop took is in r.dists; the rest would only grow stale
  if (!uncompiled.empty()) add_compile_step(r, uncompiled, uncompiled_unpacks, g);
  return {};
}

void Pipeline::add_compile_step(Resolved& r, const std::vector<size_t>& dists,
                                const std::vector<int>& unpack_ids, graph::Graph& g) {
  // One interpreter run per group of distributions, one group per job: compiling is CPU
  // work, so a cold env compiles on every core. Groups are balanced by the number of
  // members (largest first onto the lightest group).
  const size_t groups = std::min<size_t>(dists.size(), size_t(std::max(1, ctx_.opt.jobs)));
  std::vector<size_t> order(dists.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = k;
  auto weight = [&](size_t k) {
    const auto& d = r.dists[dists[k]];
    if (d.unpacked) return d.unpacked->members.size();
    // Not unpacked yet (a cold run): the wheel's size stands in for its number of modules.
    uint64_t bytes = d.sha256.empty() ? d.file.size.value_or(0)
                                      : fs::stat_path(ctx_.store->blob_path(d.sha256, false)).size;
    return size_t(1 + bytes / 4096);
  };
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return weight(a) > weight(b); });
  std::vector<std::vector<size_t>> members(groups);
  std::vector<size_t> load(groups, 0);
  for (size_t k : order) {
    size_t lightest = size_t(std::min_element(load.begin(), load.end()) - load.begin());
    members[lightest].push_back(k);
    load[lightest] += weight(k);
  }
  const BytecodeTarget t = bytecode_target(ctx_);
  for (const auto& group : members) {
    std::vector<size_t> ds;
    std::vector<int> deps;
    std::vector<std::string> names;
    for (size_t k : group) {
      ds.push_back(dists[k]);
      deps.push_back(unpack_ids[k]);
      names.push_back(r.dists[dists[k]].name);
    }
    graph::Step step = new_step(graph::StepKind::compile, join(names, ", "),
                                "bytecode (" + std::to_string(ds.size()) + " distributions)");
    step.key = t.describe();
    step.deps = deps;
    step.reason = "no stored " + t.cache_tag + " bytecode for " + join(names, ", ");
    step.run = [this, &r, ds, t]() -> Status {
      std::vector<const wheel::UnpackedWheel*> wheels;
      std::vector<std::string> keys;
      for (size_t i : ds) {
        wheels.push_back(r.dists[i].unpacked.get());
        keys.push_back(bytecode_key(r.dists[i].unpack_key, t));
      }
      auto compiled = compile_bytecode(ctx_, t, wheels, keys);
      for (size_t k = 0; k < ds.size(); ++k) r.dists[ds[k]].bytecode = std::move(compiled[k]);
      return {};
    };
    int id = g.add(std::move(step));
    for (size_t i : ds) g.step(r.dists[i].link_step).deps.push_back(id);
  }
}

}  // namespace lb::engine
