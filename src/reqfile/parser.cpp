// The driver: reads files, follows -r/-c includes, applies options, collects entries.
#include <algorithm>
#include <filesystem>
#include <unordered_set>

#include "pep/name.hpp"
#include "reqfile/entry.hpp"
#include "reqfile/lines.hpp"
#include "reqfile/options.hpp"
#include "reqfile/reqfile.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

namespace lb::reqfile {

std::string Location::to_string() const {
  return file + ":" + std::to_string(line);
}

bool Parsed::hash_checking() const {
  auto hashed = [](const Entry& e) { return !e.hashes.empty(); };
  return options.require_hashes || std::any_of(requirements.begin(), requirements.end(), hashed) ||
         std::any_of(constraints.begin(), constraints.end(), hashed);
}

namespace {

using detail::LineOption;
using detail::OptId;

struct Frame {
  std::string abs;
  std::string display;
};

struct Ctx {
  const Getenv& getenv;
  Parsed out;
  std::vector<Frame> stack;    // the chain of files being read (cycle detection)
  bool error_located = false;  // the pending error already names its file:line
  std::unordered_set<std::string> seen_files, seen_extra_index, seen_find_links, seen_hosts;
  // Files read whole, as -r (first) or -c (second): included again, they add nothing; read
  // again, diamond-shaped includes would take time exponential in their depth.
  std::unordered_set<std::string> done[2];
};

Status parse_lines(Ctx& ctx, std::string_view bytes, const Frame& file, bool constraint);

bool is_remote(std::string_view path) {
  std::string s = to_lower(path.substr(0, 8));
  return starts_with(s, "http:") || starts_with(s, "https:") || starts_with(s, "file:");
}

void push_unique(std::vector<std::string>& v, std::string s) {
  if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(std::move(s));
}

// push_unique in linear time for lists that can grow with the input: `seen` mirrors `v`.
void push_unique(std::vector<std::string>& v, std::unordered_set<std::string>& seen,
                 std::string s) {
  if (seen.size() != v.size()) seen = {v.begin(), v.end()};
  if (seen.insert(s).second) v.push_back(std::move(s));
}

/// Read `name` (relative to the including file, or to the CWD at top level) and parse it.
Status include(Ctx& ctx, const std::string& name, bool constraint, const Location* from) {
  std::string where = from ? " (included from " + from->to_string() + ")" : "";
  if (is_remote(name))
    return make_error("requirements file " + name + where + ": URLs are not supported",
                      "download the file and pass its local path");
  std::string display = name;
  if (from && !starts_with(name, "/")) {
    std::string dir = fs::dirname(from->file);
    if (dir != ".") display = fs::join_path(dir, name);
  }
  Frame frame{fs::absolute(display), display};
  if (ctx.stack.size() >= kMaxIncludeDepth) {
    std::string chain;
    for (size_t k = 0; k < ctx.stack.size(); ++k) {
      if (k == 3 && ctx.stack.size() > 6) {
        chain += "... (" + std::to_string(ctx.stack.size() - 6) + " more) -> ";
        k = ctx.stack.size() - 3;
      }
      chain += ctx.stack[k].display + " -> ";
    }
    return make_error((from ? from->to_string() + ": " : "") + "-r/-c includes are nested " +
                          "deeper than " + std::to_string(kMaxIncludeDepth) + " files (" + chain +
                          display + ")",
                      "flatten the chain of requirement files: list them on the command line "
                      "or include them from one file");
  }
  for (size_t i = 0; i < ctx.stack.size(); ++i) {
    if (ctx.stack[i].abs != frame.abs) continue;
    std::string chain;
    for (size_t k = i; k < ctx.stack.size(); ++k) chain += ctx.stack[k].display + " -> ";
    return make_error((from ? from->to_string() + ": " : "") + "requirements file " + display +
                          " includes itself (" + chain + display + ")",
                      "remove the -r/-c line that closes the loop");
  }
  if (ctx.done[constraint].count(frame.abs)) return {};
  std::error_code ec;
  if (!std::filesystem::exists(frame.abs, ec))
    return make_error(
        "cannot open requirements file " + display + where,
        from ? "-r/-c paths are relative to the file that contains them" : "check the path");
  if (!std::filesystem::is_regular_file(frame.abs, ec))
    return make_error("cannot open requirements file " + display + where + ": not a regular file",
                      "name a requirements file, not a directory");
  LB_ASSIGN(std::string bytes, fs::read_file(frame.abs));
  push_unique(ctx.out.files_read, ctx.seen_files, frame.abs);
  LB_TRY(parse_lines(ctx, bytes, frame, constraint));
  ctx.done[constraint].insert(frame.abs);
  return {};
}

/// pip's handle_mutual_excludes for --no-binary / --only-binary.
Status binary_option(std::vector<std::string>& target, std::vector<std::string>& other,
                     const LineOption& opt) {
  if (starts_with(opt.value, "-"))
    return make_error(opt.name + " needs a value: comma-separated names, :all: or :none:");
  for (const std::string& raw : split(opt.value, ',')) {
    if (raw == ":all:") {
      other.clear();
      target.assign({":all:"});
    } else if (raw == ":none:") {
      target.clear();
    } else if (!raw.empty()) {
      std::string n = pep::normalize_name(raw);
      if (!other.empty()) other.erase(std::remove(other.begin(), other.end(), n), other.end());
      push_unique(target, n);
    }
  }
  return {};
}

Status apply_option(Ctx& ctx, const LineOption& opt, const Frame& file, const Location& loc) {
  Options& o = ctx.out.options;
  switch (opt.id) {
    case OptId::index_url:
      o.index_url = opt.value;
      break;
    case OptId::extra_index_url:
      push_unique(o.extra_index_urls, ctx.seen_extra_index, opt.value);
      break;
    case OptId::no_index:
      o.no_index = true;
      break;
    case OptId::find_links: {
      std::string near = fs::join_path(fs::dirname(file.abs), opt.value);
      push_unique(o.find_links, ctx.seen_find_links,
                  fs::exists(near) ? fs::absolute(near) : opt.value);
      break;
    }
    case OptId::no_binary:
      return binary_option(o.no_binary, o.only_binary, opt);
    case OptId::only_binary:
      return binary_option(o.only_binary, o.no_binary, opt);
    case OptId::prefer_binary:
      o.prefer_binary = true;
      break;
    case OptId::require_hashes:
      o.require_hashes = true;
      break;
    case OptId::pre:
      o.pre = true;
      break;
    case OptId::trusted_host:
      push_unique(o.trusted_hosts, ctx.seen_hosts, opt.value);
      break;
    // As pip: -r inside a -c file reads requirements; -c always reads constraints.
    case OptId::requirement:
    case OptId::constraint: {
      Status st = include(ctx, opt.value, opt.id == OptId::constraint, &loc);
      if (!st.ok()) ctx.error_located = true;
      return st;
    }
    default:
      break;
  }
  return {};
}

/// Apply per-requirement options (--hash, --config-settings, ...) to `e`.
Status apply_requirement_options(Ctx& ctx, Entry& e, const std::vector<LineOption>& opts) {
  std::unordered_set<std::string> seen_hashes;
  for (const LineOption& opt : opts) {
    switch (opt.id) {
      case OptId::hash: {
        LB_ASSIGN(std::string h, detail::parse_hash(opt.value));
        push_unique(e.hashes, seen_hashes, std::move(h));
        break;
      }
      case OptId::config_settings: {
        size_t eq = opt.value.find('=');
        if (eq == std::string::npos)
          return make_error("--config-settings " + lb::quoted(opt.value) + " must be KEY=VALUE");
        e.config_settings.emplace_back(opt.value.substr(0, eq), opt.value.substr(eq + 1));
        break;
      }
      case OptId::global_option:
      case OptId::install_option:
        ctx.out.warnings.push_back(
            {e.loc,
             opt.name + " has no effect (lavabuild does not run setup.py install); ignored"});
        break;
      default:
        return make_error(
            "option " + opt.name + " must be on its own line, not after a requirement",
            "move " + opt.name + " to a separate line");
    }
  }
  return {};
}

Status check_constraint(const Entry& e) {
  if (e.kind == EntryKind::editable)
    return make_error("editable requirements are not allowed as constraints",
                      "put -e lines in a requirements file (-r), not a constraints file (-c)");
  if (e.kind != EntryKind::named)
    return make_error(
        "constraints must be a project name with a version specifier, not a "
        "URL or path: " +
            e.text,
        "put URL and path requirements in a requirements file (-r)");
  if (!e.req.extras.empty())
    return make_error("constraints cannot have extras: " + e.text, "remove the [extras]");
  return {};
}

Status add_entry(Ctx& ctx, Entry e, const std::vector<LineOption>& opts, bool constraint) {
  LB_TRY(apply_requirement_options(ctx, e, opts));
  e.constraint = constraint;
  if (constraint) {
    LB_TRY(check_constraint(e));
    ctx.out.constraints.push_back(std::move(e));
  } else {
    ctx.out.requirements.push_back(std::move(e));
  }
  return {};
}

Status handle_line(Ctx& ctx, const detail::LogicalLine& line, const Frame& file,
                   const Location& loc, bool constraint) {
  LB_ASSIGN(detail::SplitLine split, detail::split_line(line.text));
  std::vector<LineOption> per_req, file_opts;
  for (LineOption& opt : split.options)
    (detail::is_per_requirement(opt.id) ? per_req : file_opts).push_back(std::move(opt));

  if (!split.args.empty()) {
    if (!file_opts.empty())
      return make_error(
          "option " + file_opts[0].name + " must be on its own line, not after a requirement",
          "move " + file_opts[0].name + " to a separate line");
    std::vector<std::string> warnings;
    LB_ASSIGN(Entry e, detail::parse_requirement(split.args, warnings));
    for (std::string& w : warnings) ctx.out.warnings.push_back({loc, std::move(w)});
    e.loc = loc;
    e.text = line.text;
    return add_entry(ctx, std::move(e), per_req, constraint);
  }

  auto editables = std::count_if(file_opts.begin(), file_opts.end(),
                                 [](const LineOption& o) { return o.id == OptId::editable; });
  if (editables > 1) return make_error("one -e/--editable per line", "split the line");
  if (editables == 0 && !per_req.empty())
    return make_error("option " + per_req[0].name +
                          " applies to a requirement, but this line "
                          "has none",
                      "put " + per_req[0].name +
                          " on the same line as its requirement (use \\ "
                          "to continue long lines)");
  for (const LineOption& opt : file_opts) {
    if (opt.id == OptId::editable) {
      LB_ASSIGN(Entry e, detail::parse_editable(opt.value));
      e.loc = loc;
      e.text = line.text;
      LB_TRY(add_entry(ctx, std::move(e), per_req, constraint));
    } else {
      LB_TRY(apply_option(ctx, opt, file, loc));
    }
  }
  return {};
}

Status parse_lines(Ctx& ctx, std::string_view bytes, const Frame& file, bool constraint) {
  LB_ASSIGN(std::string text, detail::decode(bytes, file.display));
  ctx.stack.push_back(file);
  for (const detail::LogicalLine& line : detail::logical_lines(text, ctx.getenv)) {
    Location loc{file.display, line.line};
    Status st = handle_line(ctx, line, file, loc, constraint);
    if (!st.ok()) {
      // Include errors already name their file:line; everything else gets this line's.
      return ctx.error_located ? st.error() : st.error().context(loc.to_string());
    }
  }
  ctx.stack.pop_back();
  return {};
}

}  // namespace

Result<Parsed> parse_files(const std::vector<std::string>& paths, const Getenv& getenv) {
  Ctx ctx{getenv, {}, {}, false, {}, {}, {}, {}, {}};
  for (const std::string& path : paths) LB_TRY(include(ctx, path, false, nullptr));
  return std::move(ctx.out);
}

Result<Parsed> parse_files(const std::vector<std::string>& paths,
                           const std::vector<std::string>& constraint_paths, const Getenv& getenv) {
  Ctx ctx{getenv, {}, {}, false, {}, {}, {}, {}, {}};
  for (const std::string& path : paths) LB_TRY(include(ctx, path, false, nullptr));
  for (const std::string& path : constraint_paths) LB_TRY(include(ctx, path, true, nullptr));
  return std::move(ctx.out);
}

Result<Parsed> parse_text(std::string_view text, const std::string& filename,
                          const Getenv& getenv) {
  Ctx ctx{getenv, {}, {}, false, {}, {}, {}, {}, {}};
  Frame frame{fs::absolute(filename), filename};
  ctx.out.files_read.push_back(frame.abs);
  LB_TRY(parse_lines(ctx, text, frame, false));
  return std::move(ctx.out);
}

}  // namespace lb::reqfile
