#include "engine/source_build.hpp"

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "build/build_system.hpp"
#include "build/hook.hpp"
#include "engine/env_build.hpp"
#include "engine/pipeline.hpp"
#include "net/url.hpp"
#include "pep/name.hpp"
#include "pep/tags.hpp"
#include "source/patch.hpp"
#include "source/recipe.hpp"
#include "source/sdist.hpp"
#include "source/tree.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/strings.hpp"
#include "vcs/vcs.hpp"
#include "wheel/metadata.hpp"

extern char** environ;  // POSIX: the process's environment

namespace lb::engine {

namespace {

using json = nlohmann::json;

constexpr const char* kBuiltFormat = "lavabuild.built.v1";
constexpr const char* kBuildReqFormat = "lavabuild.buildreq.v1";

/// Warnings of a nested env run (a build env) go to the run's output; the rest is quiet.
class BuildEnvOutput : public NullOutput {
 public:
  explicit BuildEnvOutput(Output& parent) : parent_(parent) {}
  void warn(const std::string& line) override { parent_.warn("build env: " + line); }
  uint64_t download_started(const std::string& name, uint64_t total) override {
    return parent_.download_started(name, total);
  }
  void download_progress(uint64_t id, uint64_t done, uint64_t total) override {
    parent_.download_progress(id, done, total);
  }
  void download_finished(uint64_t id, uint64_t bytes, bool ok) override {
    parent_.download_finished(id, bytes, ok);
  }

 private:
  Output& parent_;
};

std::string describe(const SourceRef& r) {
  std::string what = r.kind == SourceRef::Kind::directory ? r.location
                     : r.kind == SourceRef::Kind::archive ? r.archive.filename
                                                          : r.location;
  return (r.name.empty() ? std::string() : r.name + " from ") + what;
}

}  // namespace

std::map<std::string, std::string> build_env_vars(const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> out;
  for (const char* name : kBuildEnvVars)
    if (const char* v = std::getenv(name)) out[name] = v;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    if (starts_with(kv, "SETUPTOOLS_")) {
      auto eq = kv.find('=');
      if (eq != std::string_view::npos) out[std::string(kv.substr(0, eq))] = kv.substr(eq + 1);
    }
  }
  for (const auto& [k, v] : extra) out[k] = v;
  return out;
}

namespace {}  // namespace

bool is_source_archive(const std::string& filename) {
  for (const char* ext : {".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar", ".zip"})
    if (ends_with(to_lower(filename), ext)) return true;
  return false;
}

std::string SourceRef::id() const {
  KeyHasher h("lavabuild.source-ref");
  h.field("kind", int64_t(kind)).field("location", location).field("editable", editable);
  for (const auto& [k, v] : config_settings) h.field(k, v);
  return h.hex();
}

SourceBuilder::~SourceBuilder() {
  if (!scratch_.empty()) (void)fs::remove_all(scratch_);
}

std::string SourceBuilder::scratch() {
  std::lock_guard lock(mutex_);
  if (scratch_.empty()) {
    scratch_ = fs::join_path(ctx_.store->tmp_dir(), "src-" + fs::random_hex(8));
    (void)fs::create_dirs(scratch_);
  }
  return scratch_;
}

std::string SourceBuilder::work_dir(const std::string& prefix) {
  return fs::join_path(scratch(), prefix + "-" + fs::random_hex(8));
}

std::unique_lock<std::mutex> SourceBuilder::lock_dest(const std::string& dest) {
  std::mutex* m;
  {
    std::lock_guard lock(mutex_);
    auto& slot = dest_mutexes_[dest];
    if (!slot) slot = std::make_unique<std::mutex>();
    m = slot.get();
  }
  return std::unique_lock<std::mutex>(*m);
}

std::vector<std::shared_ptr<SourceBuild>> SourceBuilder::all() const {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<SourceBuild>> out;
  for (const auto& [id, s] : sources_) out.push_back(s);
  return out;
}

Result<std::shared_ptr<SourceBuild>> SourceBuilder::prepare(const SourceRef& ref) {
  std::shared_ptr<SourceBuild> s;
  {
    std::lock_guard lock(mutex_);
    auto& slot = sources_[ref.id()];
    if (!slot) {
      slot = std::make_shared<SourceBuild>();
      slot->ref = ref;
    }
    s = slot;
  }
  std::lock_guard lock(s->mutex);
  if (s->failed) return *s->failed;  // asked again (the resolver retries): the same answer
  if (!s->key.empty()) return s;
  ctx_.out->resolving("reading the source of " + describe(ref));
  Status st = acquire(*s);
  if (st.ok()) st = read_build_system(*s);
  if (st.ok()) st = compute_key(*s);
  if (!st.ok()) {
    s->failed = st.error().context(ref.origin);
    return *s->failed;
  }
  return s;
}

Status SourceBuilder::check_archive_hashes(const SourceRef& r, const std::string& sha) const {
  if (r.hashes.empty()) return {};
  for (const auto& want : r.hashes) {
    auto colon = want.find(':');
    std::string algo = colon == std::string::npos ? "sha256" : want.substr(0, colon);
    std::string hex = colon == std::string::npos ? want : want.substr(colon + 1);
    if (algo == "sha256" && hex == sha) return {};
    if (algo != "sha256") {
      auto got = digest_file_hex(ctx_.store->blob_path(sha, false), algo);
      if (got.ok() && *got == hex) return {};
    }
  }
  return make_error("hash mismatch for " + r.archive.filename + ": expected " +
                        join(r.hashes, " or ") + ", got sha256:" + sha,
                    "the file differs from what was pinned; do not build it unless the new hash "
                    "is trusted");
}

Status SourceBuilder::acquire(SourceBuild& s) {
  const SourceRef& r = s.ref;
  switch (r.kind) {
    case SourceRef::Kind::directory: {
      if (!fs::is_dir(r.location))
        return make_error(r.location + ": no such directory", "check the path");
      s.tree = r.location;
      // The tree's stat cache is one index value ("srcstat/<sha256(path)>"): one read, and
      // only the files whose stat changed are read and hashed.
      std::string cache_key = "srcstat/" + sha256_hex(s.tree).substr(0, 32);
      source::MemoryStatCache cache;
      if (auto v = ctx_.store->get(cache_key); v.ok() && v->has_value())
        if (auto parsed = source::MemoryStatCache::parse(**v); parsed.ok())
          cache = std::move(*parsed);
      LB_ASSIGN(auto d, source::digest_tree(s.tree, &cache));
      if (cache.changed()) ctx_.defer_put(cache_key, cache.serialize());
      s.digest = "tree:" + d.digest;
      s.date_epoch = d.newest_mtime;
      for (auto& [path, sha] : d.entries) s.files[path] = sha;
      return {};
    }
    case SourceRef::Kind::archive: {
      bool ran = false;
      LB_ASSIGN(std::string sha, fetcher_.fetch(r.archive, ran));
      LB_TRY(check_archive_hashes(r, sha));  // before any of it is read, let alone run
      s.digest = "archive:" + sha;
      std::string dest = fs::join_path(scratch(), "unpacked-" + sha.substr(0, 16));
      auto held = lock_dest(dest);
      if (!fs::exists(dest)) {
        LB_ASSIGN(s.tree, source::unpack_archive(ctx_.store->blob_path(sha, false), dest));
      } else {
        auto names = fs::list_dir(dest);
        s.tree = names.ok() && names->size() == 1 && fs::is_dir(dest + "/" + (*names)[0])
                     ? dest + "/" + (*names)[0]
                     : dest;
      }
      // The archive's sha256 identifies the content: only the newest mtime is wanted here.
      auto fp = source::stat_fingerprint(s.tree, {}, &s.date_epoch);
      if (!fp.ok()) return fp.error();
      return {};
    }
    case SourceRef::Kind::vcs: {
      LB_ASSIGN(auto url, vcs::parse_url(r.location));
      vcs::Options vo;
      vo.cache_dir = ctx_.store->dir();
      vo.offline = ctx_.opt.offline;
      ctx_.out->resolving("fetching " + net::redact_url(url.repo));
      LB_ASSIGN(auto rev, vcs::resolve(url, vo));
      s.vcs_kind = url.kind == vcs::Kind::git ? "git" : "bzr";
      s.vcs_commit = rev.commit_id;
      s.vcs_requested = url.rev;
      s.vcs_subdirectory = url.subdirectory;
      s.vcs_url = url.direct_url();  // PEP 610: no git+ prefix, no credentials
      s.date_epoch = rev.commit_time;
      s.digest = KeyHasher("lavabuild.vcs-source.v1")
                     .field("vcs", s.vcs_kind)
                     .field("commit", rev.commit_id)
                     .field("subdirectory", url.subdirectory)
                     .hex();
      std::string dest = fs::join_path(scratch(), "vcs-" + s.digest.substr(0, 16));
      auto held = lock_dest(dest);
      if (!fs::exists(dest)) LB_TRY(vcs::export_tree(url, rev, dest, vo));
      s.tree = dest;
      if (r.editable)
        return make_error(r.location + ": an editable VCS requirement needs a checkout to edit",
                          "clone it and use `-e PATH` on the clone");
      return {};
    }
  }
  return {};
}

Status SourceBuilder::read_build_system(SourceBuild& s) {
  LB_ASSIGN(auto bs, build::read_build_system(s.tree));
  s.build_requires = bs.requirements;
  s.backend = bs.backend;
  // A recipe applies when the project's name is known before building (an sdist's or
  // archive's file name, `name @ ...`, `#egg=`).
  std::string name = s.ref.name;
  std::string version;
  if (s.ref.kind == SourceRef::Kind::archive) {
    auto sd = pep::SdistFilename::parse(s.ref.archive.filename);
    if (sd.ok()) {
      if (name.empty()) name = pep::normalize_name(sd->name);
      version = sd->version;
    }
  }
  s.env = build_env_vars({});
  if (!name.empty() && !ctx_.opt.recipes_dir.empty()) {
    LB_ASSIGN(auto recipe, source::load_recipe(ctx_.opt.recipes_dir, name));
    if (recipe && (version.empty() || recipe->applies_to(version))) {
      s.recipe_digest = recipe->digest;
      s.recipe_patches = recipe->patches;
      s.recipe_file = recipe->file;
      for (const auto& r : recipe->build_requires) s.build_requires.push_back(r);
      s.env = build_env_vars(recipe->env);
    }
  }
  return {};
}

Result<std::pair<std::string, std::string>> SourceBuilder::ensure_build_env(
    const std::vector<std::string>& requires_in) {
  std::vector<std::string> reqs = requires_in;
  std::sort(reqs.begin(), reqs.end());
  reqs.erase(std::unique(reqs.begin(), reqs.end()), reqs.end());
  // The requirements file of the build env: the run's index options, then the requirements.
  std::string text = "# lavabuild build env (written by lavabuild; do not edit)\n";
  const auto& fo = ctx_.reqs.options;
  const auto& o = ctx_.opt;
  std::string index = o.index_url    ? *o.index_url
                      : fo.index_url ? *fo.index_url
                                     : o.default_index_url.value_or("");
  if (!index.empty()) text += "--index-url " + index + "\n";
  for (const auto& u : fo.extra_index_urls) text += "--extra-index-url " + u + "\n";
  for (const auto& u : o.extra_index_urls) text += "--extra-index-url " + u + "\n";
  for (const auto& f : fo.find_links) text += "--find-links " + fs::absolute(f) + "\n";
  for (const auto& f : o.find_links)
    text += "--find-links " + (f.find("://") == std::string::npos ? fs::absolute(f) : f) + "\n";
  if (o.no_index || fo.no_index) text += "--no-index\n";
  for (const auto& r : reqs) text += r + "\n";
  std::string digest = KeyHasher("lavabuild.build-env.v1")
                           .field("interpreter", ctx_.python.key)
                           .field("requirements", text)
                           .hex()
                           .substr(0, 32);
  std::string base = fs::join_path(ctx_.store->dir(), "build-envs");
  LB_TRY(fs::create_dirs(base));
  std::string req_file = base + "/" + digest + ".txt";
  auto old = fs::read_file(req_file);
  if (!old.ok() || *old != text) LB_TRY(fs::write_file_atomic(req_file, text));

  std::lock_guard one(env_mutex_);
  Options bo = ctx_.opt;
  bo.command = "env";
  bo.inputs = {req_file};
  bo.constraints.clear();
  bo.output = base + "/" + digest;
  bo.locked.clear();
  bo.upgrade = bo.reinstall = bo.seed = bo.json = false;
  bo.upgrade_packages.clear();
  bo.reinstall_packages.clear();
  // Bytecode compiled once into the store and linked: every hook imports the backend fast,
  // even where PYTHONDONTWRITEBYTECODE keeps Python from writing its own.
  bo.no_compile = false;
  bo.quiet = true;
  bo.no_build = true;  // build requirements come as wheels (no builds within builds)
  bo.index_url.reset();
  bo.extra_index_urls.clear();
  bo.find_links.clear();
  bo.no_index = false;
  bo.require_hashes = false;
  BuildEnvOutput out(*ctx_.out);
  Context child;
  child.init_with(bo, out, ctx_.store, ctx_.python);
  child.now = ctx_.now;
  ReadsPaused paused(*this);  // the nested run writes the index
  ctx_.flush_or_warn();
  Pipeline pipe(child);
  Result<EnvReport> report = [&]() -> Result<EnvReport> {
    LB_TRY(pipe.load_inputs());
    return build_env(child, pipe);
  }();
  if (!report.ok()) return report.error().context("making the build env for " + join(reqs, ", "));
  return std::make_pair(bo.output, report->digest);
}

Status SourceBuilder::compute_key(SourceBuild& s) {
  std::string hook = s.ref.editable ? "editable" : "wheel";
  LB_ASSIGN(auto base, ensure_build_env(s.build_requires));
  // What the backend asks for beyond [build-system] requires: asked once per source and env.
  // A local tree changes with every edit, its build requirements almost never: its answer is
  // keyed by the files backends read them from (pyproject.toml, setup.py, setup.cfg), so a
  // hot-fix does not pay for a second backend run. An archive or a commit is keyed whole.
  std::string req_source = s.digest;
  if (s.ref.kind == SourceRef::Kind::directory) {
    KeyHasher ck("lavabuild.build-config.v1");
    for (const char* f : {"pyproject.toml", "setup.py", "setup.cfg"}) {
      auto it = s.files.find(f);
      ck.field(f, it == s.files.end() ? "absent" : it->second);
    }
    req_source = ck.hex();
  }
  KeyHasher rk(kBuildReqFormat);
  rk.field("source", req_source)
      .field("build_env", base.second)
      .field("interpreter", ctx_.python.key)
      .field("hook", hook);
  for (const auto& [k, v] : s.ref.config_settings) rk.field("config", k + "=" + v);
  for (const auto& [k, v] : s.env) rk.field("env", k + "=" + v);
  rk.field("recipe", s.recipe_digest);
  std::string req_key = rk.hex();
  std::vector<std::string> extra;
  auto cached = ctx_.store->get("buildreq/" + req_key);
  if (cached.ok() && cached->has_value() && starts_with(**cached, kBuildReqFormat)) {
    auto lines = split(**cached, '\n');
    for (size_t i = 1; i < lines.size(); ++i)
      if (!lines[i].empty()) extra.push_back(lines[i]);
  } else {
    std::string work = work_dir("req-" + req_key.substr(0, 16));
    LB_TRY(private_copy(s, work));
    ctx_.out->resolving("asking the build backend of " + describe(s.ref) + " what it needs");
    LB_ASSIGN(auto outcome,
              run_backend(s, base.first, work,
                          s.ref.editable ? build::Hook::get_requires_for_build_editable
                                         : build::Hook::get_requires_for_build_wheel,
                          work, "requires-" + req_key.substr(0, 12)));
    extra = outcome.requirements;
    std::string v = std::string(kBuildReqFormat) + "\n";
    for (const auto& e : extra) v += e + "\n";
    ctx_.defer_put("buildreq/" + req_key, v);
    (void)fs::remove_all(work);
  }
  auto env = base;
  if (!extra.empty()) {
    std::vector<std::string> all = s.build_requires;
    all.insert(all.end(), extra.begin(), extra.end());
    LB_ASSIGN(env, ensure_build_env(all));
  }
  s.env_dir = env.first;
  s.env_digest = env.second;

  s.fields.clear();
  s.fields["source"] = s.digest;
  s.fields["build env"] = s.env_digest;
  s.fields["interpreter"] = ctx_.python.key;
  s.fields["hook"] = hook;
  std::string config;
  for (const auto& [k, v] : s.ref.config_settings) config += k + "=" + v + " ";
  s.fields["config settings"] = config;
  std::string envs;
  for (const auto& [k, v] : s.env) envs += k + "=" + v + " ";
  s.fields["environment"] = envs;
  s.fields["recipe"] = s.recipe_digest;
  KeyHasher h("lavabuild.build.v1");
  h.field("source", s.digest)
      .field("build_env", s.env_digest)
      .field("interpreter", ctx_.python.key)
      .field("hook", hook);
  for (const auto& [k, v] : s.ref.config_settings) h.field("config", k + "=" + v);
  for (const auto& [k, v] : s.env) h.field("env", k + "=" + v);
  h.field("recipe", s.recipe_digest);
  s.key = h.hex();

  auto built = ctx_.store->get("build/" + s.key);
  if (built.ok() && built->has_value()) {
    auto lines = split(**built, '\n');
    if (lines.size() >= 3 && lines[0] == kBuiltFormat && ctx_.store->has_blob(lines[1], false)) {
      s.wheel_sha = lines[1];
      s.wheel_filename = lines[2];
      s.reason = "built before (key " + s.key.substr(0, 12) + ")";
      record_inputs(s);  // what this location's next rebuild is compared with
      return {};
    }
  }
  explain_rebuild(s);
  return {};
}

void SourceBuilder::explain_rebuild(SourceBuild& s) {
  auto prev = ctx_.store->get("srcbuild/" + s.ref.location);
  if (!prev.ok() || !prev->has_value()) {
    s.reason = "never built (key " + s.key.substr(0, 12) + ")";
    return;
  }
  json j = json::parse(**prev, nullptr, false);
  if (!j.is_object() || !j.contains("fields") || !j["fields"].is_object()) {
    s.reason = "no build with key " + s.key.substr(0, 12);
    return;
  }
  std::vector<std::string> changed;
  for (const auto& [name, value] : s.fields) {
    auto it = j["fields"].find(name);
    if (it != j["fields"].end() && it->is_string() && it->get<std::string>() == value) continue;
    if (name == "source" && j.contains("files") && j["files"].is_object() && !s.files.empty()) {
      std::vector<std::string> files;
      for (const auto& [path, sha] : s.files) {
        auto f = j["files"].find(path);
        if (f == j["files"].end())
          files.push_back(path + " added");
        else if (!f->is_string() || f->get<std::string>() != sha)
          files.push_back(path + " changed");
      }
      for (auto f = j["files"].begin(); f != j["files"].end(); ++f)
        if (!s.files.count(f.key())) files.push_back(f.key() + " removed");
      if (files.size() > 5) {
        size_t more = files.size() - 4;
        files.resize(4);
        files.push_back("and " + std::to_string(more) + " more");
      }
      changed.push_back("source (" + join(files, ", ") + ")");
    } else {
      changed.push_back(name);
    }
  }
  s.reason = changed.empty() ? "no build with key " + s.key.substr(0, 12)
                             : "changed since the last build: " + join(changed, "; ");
}

Result<std::string> SourceBuilder::metadata(SourceBuild& s) {
  std::lock_guard lock(s.mutex);
  if (s.wheel_sha.empty() && s.metadata.empty() && s.ref.kind == SourceRef::Kind::archive &&
      !s.ref.editable) {
    LB_ASSIGN(auto pkg, source::read_pkg_info(s.tree));
    if (pkg && pkg->static_requires()) {
      auto text = fs::read_file(s.tree + "/PKG-INFO");
      if (text.ok()) s.metadata = *text;
    }
  }
  const std::string meta_key = "buildmeta/" + s.key;
  if (s.wheel_sha.empty() && s.metadata.empty()) {
    if (auto v = ctx_.store->get(meta_key); v.ok() && v->has_value()) s.metadata = **v;
  }
  if (s.wheel_sha.empty() && s.metadata.empty()) {
    // An sdist the resolver considers (it may try several versions), or `plan` (which builds
    // nothing): the backend prepares the metadata alone, as pip does. A source the user named
    // is built at once instead: it is installed anyway, and one hook run costs less than two.
    if (ctx_.opt.command == "plan" || !s.ref.build_for_metadata) {
      ctx_.out->resolving("preparing the metadata of " + describe(s.ref));
      std::string work = work_dir("meta-" + s.key.substr(0, 16));
      LB_TRY(private_copy(s, work));
      std::string out = work + ".out";
      (void)fs::remove_all(out);
      LB_TRY(fs::create_dirs(out));
      LB_ASSIGN(auto outcome,
                run_backend(s, s.env_dir, work,
                            s.ref.editable ? build::Hook::prepare_metadata_for_build_editable
                                           : build::Hook::prepare_metadata_for_build_wheel,
                            out, "metadata-" + s.key.substr(0, 12)));
      if (!outcome.hook_missing) {
        auto text = fs::read_file(out + "/" + outcome.basename + "/METADATA");
        if (text.ok()) {
          s.metadata = *text;
          ctx_.defer_put(meta_key, s.metadata);
        }
      }
      (void)fs::remove_all(work);
      (void)fs::remove_all(out);
    }
    if (s.metadata.empty()) {
      // Its dependencies are known only from its metadata: build it now (pip does the same).
      ctx_.out->resolving("building " + describe(s.ref));
      LB_TRY(run_build(s));
      s.built_while_resolving = true;
    }
  }
  if (!s.wheel_sha.empty()) {
    net::IndexFile f;
    f.filename = s.wheel_filename;
    f.sha256 = s.wheel_sha;
    f.url = net::path_to_file_url(ctx_.store->blob_path(s.wheel_sha, false));
    bool fetched = false;
    LB_ASSIGN(std::string text, fetcher_.metadata(f, fetched));
    s.metadata = text;
  }
  auto meta = wheel::parse_core_metadata(s.metadata);
  if (!meta.ok()) return meta.error().context(describe(s.ref));
  s.name = pep::normalize_name(meta->name);
  s.version = meta->version;
  if (!s.ref.name.empty() && s.ref.name != s.name)
    return make_error(s.ref.origin + ": " + describe(s.ref) + " is the project " + meta->name +
                          ", not " + s.ref.name,
                      "fix the name in the requirement");
  return s.metadata;
}

void SourceBuilder::record_inputs(const SourceBuild& s) {
  json rec = {{"fields", s.fields}, {"files", s.files}};
  ctx_.defer_put("srcbuild/" + s.ref.location, rec.dump());
}

SourceBuilder::ReadsPaused::ReadsPaused(SourceBuilder& b) : b_(b) {
  std::lock_guard lock(b_.reads_mutex_);
  if (b_.pauses_++ == 0) {
    b_.was_reading_ = b_.ctx_.reading();
    b_.ctx_.end_reads();
  }
}

SourceBuilder::ReadsPaused::~ReadsPaused() {
  std::lock_guard lock(b_.reads_mutex_);
  if (--b_.pauses_ == 0 && b_.was_reading_) b_.ctx_.begin_reads();
}

Status SourceBuilder::private_copy(const SourceBuild& s, const std::string& dir) {
  (void)fs::remove_all(dir);
  LB_TRY(source::copy_tree(s.tree, dir));
  return apply_recipe_patches(s, dir);
}

Result<build::HookOutcome> SourceBuilder::run_backend(const SourceBuild& s,
                                                      const std::string& env_dir,
                                                      const std::string& tree, build::Hook hook,
                                                      const std::string& out_dir,
                                                      const std::string& log_name) {
  build::HookRequest req;
  req.python = env_dir + "/bin/python";
  req.source_dir = tree;
  LB_ASSIGN(req.system, build::read_build_system(tree));
  req.hook = hook;
  req.output_dir = out_dir;
  req.config_settings = s.ref.config_settings;
  req.env = s.env;
  // Zip timestamps start in 1980: an older (or absent) mtime would not fit in a wheel.
  req.env["SOURCE_DATE_EPOCH"] = std::to_string(std::max<int64_t>(s.date_epoch, 315532800));
  // The private copy's path is random: keep it out of compiled objects (debug info, __FILE__)
  // so that two builds of the same source give the same wheel.
  for (const char* var : {"CFLAGS", "CXXFLAGS"}) {
    std::string flags = req.env.count(var) ? req.env[var] : "";
    if (flags.empty())
      if (const char* v = std::getenv(var)) flags = v;
    req.env[var] = (flags.empty() ? "" : flags + " ") + "-ffile-prefix-map=" + tree + "=.";
  }
  req.timeout = std::chrono::seconds(ctx_.opt.build_timeout);
  LB_TRY(fs::create_dirs(fs::join_path(ctx_.store->dir(), "logs")));
  req.log_path = fs::join_path(ctx_.store->dir(), "logs/" + log_name + ".log");
  (void)fs::remove_all(req.log_path);  // the log of this hook's last run only
  ReadsPaused paused(*this);           // other runs may use the index while the backend works
  return build::run_hook(req);
}

Status SourceBuilder::apply_recipe_patches(const SourceBuild& s, const std::string& tree) {
  for (const auto& p : s.recipe_patches) {
    std::vector<std::string> fuzzy;
    std::string label = "recipe " + s.recipe_file + ", patch " + fs::basename(p);
    LB_TRY(source::apply_patch(tree, p, label, &fuzzy));
    for (const auto& w : fuzzy) ctx_.out->warn(label + ": " + w + " (refresh the patch)");
  }
  return {};
}

Status SourceBuilder::build(SourceBuild& s) {
  std::lock_guard lock(s.mutex);
  if (!s.wheel_sha.empty()) return {};
  return run_build(s);
}

Status SourceBuilder::run_build(SourceBuild& s) {
  if (s.key.empty()) LB_TRY(compute_key(s));
  if (!s.wheel_sha.empty()) return {};
  std::string label = s.name.empty() ? describe(s.ref) : s.name;
  std::string work = work_dir("build-" + s.key.substr(0, 16));
  std::string src = work + "/src", out = work + "/out";
  if (s.ref.editable)
    src = s.tree;  // an editable is imported from the user's tree: the backend works there
  else
    LB_TRY(private_copy(s, src));
  LB_TRY(fs::create_dirs(out));
  std::string safe_name = !s.name.empty()       ? s.name
                          : !s.ref.name.empty() ? s.ref.name
                                                : pep::normalize_name(fs::basename(s.tree));
  auto outcome = run_backend(
      s, s.env_dir, src, s.ref.editable ? build::Hook::build_editable : build::Hook::build_wheel,
      out, "build-" + safe_name + "-" + s.key.substr(0, 12));
  if (!outcome.ok()) {
    (void)fs::remove_all(work);
    return outcome.error().context(s.ref.origin + ": building " + label);
  }
  std::string wheel_path = out + "/" + outcome->basename;
  auto wf = pep::WheelFilename::parse(outcome->basename);
  if (!wf.ok())
    return make_error("building " + label + ": the backend returned " + outcome->basename +
                      ", which is not a wheel file name");
  if (!s.ref.name.empty() && pep::normalize_name(wf->name) != s.ref.name)
    return make_error(s.ref.origin + ": building " + label + " gave a wheel of " + wf->name + " (" +
                          outcome->basename + "), not of " + s.ref.name,
                      "fix the name in the requirement");
  if (!ctx_.wheel_rank(outcome->basename))
    return make_error("building " + label + " gave " + outcome->basename +
                      ", which this interpreter cannot install");
  LB_ASSIGN(std::string sha, ctx_.store->put_blob_file(wheel_path, false));
  (void)fs::remove_all(work);
  s.wheel_sha = sha;
  s.wheel_filename = outcome->basename;
  s.built = true;
  ctx_.defer_put("build/" + s.key,
                 std::string(kBuiltFormat) + "\n" + sha + "\n" + outcome->basename + "\n");
  record_inputs(s);
  return {};
}

}  // namespace lb::engine
