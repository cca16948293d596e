// Bazaar (brz): a standalone branch without a working tree, revisions read with version-info
// (cat-revision for one no longer on the branch), trees written by export.
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <optional>
#include <string>

#include "util/fs.hpp"
#include "util/strings.hpp"
#include "vcs/vcs.hpp"
#include "vcs/vcs_internal.hpp"

namespace lb::vcs {
namespace {

/// How much of brz a command needs: the mirror alone needs no plugins (a faster start).
enum class Plugins { load, none };

Command brz(std::vector<std::string> args, Plugins plugins) {
  Command cmd;
  cmd.argv = {"brz"};
  if (plugins == Plugins::none) cmd.argv.push_back("--no-plugins");
  cmd.argv.insert(cmd.argv.end(), args.begin(), args.end());
  cmd.env = {{"BRZ_LOG", "/dev/null"}};
  return cmd;
}

/// "2024-01-01 12:00:00 +0530" (version-info's {date}) as unix seconds.
std::optional<int64_t> parse_date(std::string_view text) {
  int y, mo, d, h, mi, s, off;
  char sign;
  std::string t(text);
  if (std::sscanf(t.c_str(), "%d-%d-%d %d:%d:%d %c%4d", &y, &mo, &d, &h, &mi, &s, &sign, &off) !=
          8 ||
      (sign != '+' && sign != '-'))
    return std::nullopt;
  struct tm tm = {};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  int64_t offset = (off / 100) * 3600 + (off % 100) * 60;
  return int64_t(::timegm(&tm)) - (sign == '+' ? offset : -offset);
}

/// A field of cat-revision's bencoded revision ("...9:timestamp14:1700000000.12...").
std::optional<std::string> bencode_field(std::string_view text, std::string_view name) {
  std::string key = std::to_string(name.size()) + ":" + std::string(name);
  auto at = text.find(key);
  if (at == std::string_view::npos) return std::nullopt;
  size_t pos = at + key.size();
  size_t colon = text.find(':', pos);
  if (colon == std::string_view::npos || colon == pos) return std::nullopt;
  for (size_t i = pos; i < colon; ++i)
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
  size_t len = std::strtoul(std::string(text.substr(pos, colon - pos)).c_str(), nullptr, 10);
  if (colon + 1 + len > text.size()) return std::nullopt;
  return std::string(text.substr(colon + 1, len));
}

/// Revision id and time of `spec` from cat-revision, which needs no revno (a revision that is
/// in the repository but no longer on the branch).
Result<std::optional<Revision>> cat_revision(const Url& url, const Options& opt,
                                             const std::string& mirror, const std::string& spec) {
  Command cmd = brz({"cat-revision", "-r", spec, "-d", mirror}, Plugins::none);
  LB_ASSIGN(ProcessResult r, run_command(url, opt, cmd));
  if (r.exit_code != 0) return std::optional<Revision>();
  auto id = bencode_field(r.out, "revision-id");
  auto time = bencode_field(r.out, "timestamp");
  if (!id || !time) return command_error(url, cmd, r, "this brz's revision format is unknown");
  Revision rev;
  rev.commit_id = *id;
  rev.commit_time = int64_t(std::strtod(time->c_str(), nullptr));
  return std::optional<Revision>(rev);
}

/// The revision `spec` names in the mirror, or nullopt (brz's complaint in `why`).
Result<std::optional<Revision>> lookup(const Url& url, const Options& opt,
                                       const std::string& mirror, const std::string& spec,
                                       std::string& why) {
  Command cmd = brz({"version-info", "--custom", "--template={revno}\\n{revision_id}\\n{date}\\n",
                     "-r", spec, "--", mirror},
                    Plugins::none);
  LB_ASSIGN(ProcessResult r, run_command(url, opt, cmd));
  if (r.exit_code != 0) {
    why = std::string(trim(split(r.err, '\n').front()));
    return cat_revision(url, opt, mirror, spec);
  }
  auto lines = split(r.out, '\n');
  std::optional<int64_t> time = lines.size() >= 3 ? parse_date(lines[2]) : std::nullopt;
  if (!time || lines[1].empty())
    return command_error(url, cmd, r, "this brz's version-info output is unknown");
  Revision rev;
  rev.revno = lines[0];
  rev.commit_id = lines[1];
  rev.commit_time = *time;
  return std::optional<Revision>(rev);
}

Status pull(const Url& url, const Options& opt, const std::string& mirror) {
  Command cmd = brz({"pull", "-q", "--overwrite", "-d", mirror, "--", url.repo}, Plugins::load);
  LB_TRY(run_checked(url, opt, cmd, reach_hint(url, Mirror::present)));
  return {};
}

}  // namespace

Status bzr_clone(const Url& url, const Options& opt, const std::string& target) {
  Command cmd = brz({"branch", "-q", "--no-tree", "--", url.repo, target}, Plugins::load);
  LB_TRY(run_checked(url, opt, cmd, reach_hint(url, Mirror::absent)));
  return {};
}

Result<Revision> bzr_resolve(const Url& url, const Options& opt, const std::string& mirror,
                             bool cloned) {
  std::string spec = bzr_revspec(url.rev);
  std::string why;
  std::optional<Revision> found;
  if (cloned || url.rev_is_immutable() || opt.offline) {
    LB_ASSIGN(found, lookup(url, opt, mirror, spec, why));
  }
  bool fetched = cloned;
  if (!found && !cloned && !opt.offline) {
    LB_TRY(pull(url, opt, mirror));
    fetched = true;
    LB_ASSIGN(found, lookup(url, opt, mirror, spec, why));
  }
  if (!found) {
    std::string what = url.rev.empty() ? "tip" : "revision " + quoted(url.rev);
    if (opt.offline)
      return make_error(redact_url(url.text) + ": the mirror in the cache has no " + what +
                            " and the run is offline",
                        "run once online to fetch it");
    return make_error(redact_url(url.text) + ": no " + what + " in " + redact_url(url.repo) +
                          (why.empty() ? "" : " (" + why + ")"),
                      "check the revision after '@' (a revno, tag or revid:)");
  }
  found->fetched = fetched;
  return *found;
}

Result<std::string> bzr_export(const Url& url, Revision& rev, const std::string& mirror,
                               const std::string& work, const Options& opt) {
  std::string spec = "revid:" + rev.commit_id;
  if (rev.commit_time == 0) {
    LB_ASSIGN(auto found, cat_revision(url, opt, mirror, spec));
    if (!found)
      return make_error(redact_url(url.text) + ": the mirror has no revision " + rev.commit_id,
                        "resolve the URL again (online)");
    rev.commit_time = found->commit_time;
  }
  std::string tree = fs::join_path(work, "tree");
  Command cmd =
      brz({"export", "-q", "--format=dir", "-r", spec, "--", tree, mirror}, Plugins::none);
  LB_TRY(run_checked(url, opt, cmd, "resolve the URL again (online) to fetch the revision"));
  if (url.subdirectory.empty()) return tree;
  // `brz export` of a missing subdirectory writes an empty directory: check it on disk, each
  // component a real directory (not a link out of the tree).
  std::string dir = tree;
  for (const auto& part : split(url.subdirectory, '/')) {
    dir = fs::join_path(dir, part);
    auto info = fs::stat_path(dir);
    if (!info.is_dir || info.is_symlink)
      return make_error(redact_url(url.text) + ": revision " + rev.commit_id +
                            " has no directory " + quoted(url.subdirectory),
                        "check #subdirectory=");
  }
  return dir;
}

}  // namespace lb::vcs
