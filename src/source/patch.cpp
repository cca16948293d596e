// Unified diffs: file names checked here, hunks applied by GNU patch.
#include "source/patch.hpp"

#include <algorithm>
#include <charconv>
#include <optional>
#include <vector>

#include "util/fs.hpp"
#include "util/process.hpp"
#include "util/strings.hpp"

namespace lb::source {
namespace {

constexpr uint64_t kMaxPatchSize = uint64_t(64) << 20;
constexpr const char* kRefreshHint =
    "refresh the patch for this version of the sources: apply it by hand to a fresh copy, then "
    "regenerate it with `diff -ru a b` (or narrow the versions it is used for)";

/// A C-quoted name as git writes it ("a/caf\303\251"): escapes decoded. Unquoted text is
/// returned as is.
std::string c_unquote(std::string_view s) {
  if (s.size() < 2 || s.front() != '"') return std::string(s);
  std::string out;
  for (size_t i = 1; i < s.size(); ++i) {
    char c = s[i];
    if (c == '"') break;
    if (c != '\\' || i + 1 >= s.size()) {
      out += c;
      continue;
    }
    char e = s[++i];
    switch (e) {
      case 'a':
        out += '\a';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'v':
        out += '\v';
        break;
      default:
        if (e >= '0' && e <= '7') {
          int v = 0, n = 0;
          while (n < 3 && i < s.size() && s[i] >= '0' && s[i] <= '7')
            v = v * 8 + (s[i++] - '0'), ++n;
          --i;
          out += char(v & 0xff);
        } else {
          out += e;
        }
    }
  }
  return out;
}

/// Why `name` would be outside the tree, or nullopt.
std::optional<std::string> outside(std::string_view name) {
  if (name == "/dev/null" || name.empty()) return std::nullopt;
  if (name.front() == '/') return std::string("an absolute path");
  for (const auto& part : split(name, '/'))
    if (part == ".." || starts_with(part, "..\t") || starts_with(part, ".. "))
      return std::string("a path with a \"..\" component");
  return std::nullopt;
}

/// The names a header line may give GNU patch: the text up to a tab, unquoted, and each of its
/// whitespace-separated words (patch also ends a name at a space before a date).
std::vector<std::string> candidate_names(std::string_view rest) {
  rest = trim(rest);
  std::vector<std::string> out;
  if (!rest.empty() && rest.front() == '"') {
    out.push_back(c_unquote(rest));
  } else {
    out.emplace_back(trim(rest.substr(0, rest.find('\t'))));
  }
  for (const auto& word : split_ws(rest)) out.push_back(c_unquote(word));
  return out;
}

/// "@@ -l[,s] +l[,s] @@": the old and new line counts.
bool parse_hunk_header(std::string_view line, uint64_t& old_left, uint64_t& new_left) {
  if (!starts_with(line, "@@ -")) return false;
  auto count = [](std::string_view range, uint64_t& out) {
    size_t comma = range.find(',');
    out = 1;
    if (comma == std::string_view::npos) return true;
    auto part = range.substr(comma + 1);
    auto r = std::from_chars(part.data(), part.data() + part.size(), out);
    return r.ec == std::errc() && r.ptr == part.data() + part.size();
  };
  auto words = split_ws(line.substr(3));
  if (words.size() < 3 || words[0].empty() || words[0][0] != '-' || words[1].empty() ||
      words[1][0] != '+' || !starts_with(words[2], "@@"))
    return false;
  return count(std::string_view(words[0]).substr(1), old_left) &&
         count(std::string_view(words[1]).substr(1), new_left);
}

/// Context-diff hunk ranges ("*** 1,4 ****", "--- 1,4 ----") are not names.
bool is_context_range(std::string_view rest) {
  rest = trim(rest);
  return ends_with(rest, "****") || ends_with(rest, "----");
}

/// What GNU patch said, reduced to the lines that explain a failure, each with its file.
std::vector<std::string> failures(const std::string& output) {
  std::vector<std::string> out;
  std::string file;
  bool missing = false;
  std::string missing_line;
  for (const auto& raw : split(output, '\n')) {
    std::string_view line = trim(raw);
    if (starts_with(line, "checking file ") || starts_with(line, "patching file ")) {
      file = std::string(line.substr(14));
      continue;
    }
    std::string where = file.empty() ? "" : file + ": ";
    if (missing && starts_with(line, "|+++ ")) {
      auto names = candidate_names(line.substr(5));
      out.push_back("can't find the file to patch, " + names.front() + " (" + missing_line + ")");
      missing = false;
    } else if (starts_with(line, "can't find file to patch")) {
      missing = true;
      size_t at = line.find("input line");
      missing_line = at == std::string_view::npos ? std::string(line)
                                                  : "patch " + std::string(line.substr(at + 6));
    } else if (line.find("FAILED at") != std::string_view::npos) {
      out.push_back(where + std::string(line));
    } else if (starts_with(line, "Reversed (or previously applied) patch detected")) {
      out.push_back(where + "the patch is reversed or already applied");
    } else if (starts_with(line, "patch: **** ")) {
      out.emplace_back(line.substr(12));
    } else if (line.find("refusing") != std::string_view::npos ||
               line.find("dangerous") != std::string_view::npos ||
               line.find("not a regular file") != std::string_view::npos ||
               line.find("Permission denied") != std::string_view::npos ||
               line.find("No such file") != std::string_view::npos) {
      out.push_back(where + std::string(line));
    }
  }
  if (missing) out.push_back("can't find the file to patch (" + missing_line + ")");
  if (out.empty()) {  // something unforeseen: the last lines as they are
    auto lines = split(trim(output), '\n');
    for (size_t i = lines.size() > 5 ? lines.size() - 5 : 0; i < lines.size(); ++i)
      if (!trim(lines[i]).empty()) out.emplace_back(trim(lines[i]));
  }
  return out;
}

/// "Hunk #2 succeeded at 15 with fuzz 1." lines, each with its file.
std::vector<std::string> fuzzy_hunks(const std::string& output) {
  std::vector<std::string> out;
  std::string file;
  for (const auto& raw : split(output, '\n')) {
    std::string_view line = trim(raw);
    if (starts_with(line, "patching file ")) file = std::string(line.substr(14));
    if (starts_with(line, "Hunk #") && line.find(" with fuzz ") != std::string_view::npos)
      out.push_back(file + ": " + std::string(line));
  }
  return out;
}

}  // namespace

Status check_patch_paths(std::string_view text) {
  uint64_t old_left = 0, new_left = 0, number = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? text.npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (old_left > 0 || new_left > 0) {  // inside a unified hunk: content
      char c = line.empty() ? ' ' : line[0];
      if (c == ' ' || line.empty()) {
        if (old_left) --old_left;
        if (new_left) --new_left;
        continue;
      }
      if (c == '-' && old_left) {
        --old_left;
        continue;
      }
      if (c == '+' && new_left) {
        --new_left;
        continue;
      }
      if (c == '\\') continue;  // "\ No newline at end of file"
      old_left = new_left = 0;  // a short hunk: GNU patch stops it here too
    }
    if (parse_hunk_header(line, old_left, new_left)) continue;
    std::vector<std::string> names;
    if (starts_with(line, "--- ") || starts_with(line, "+++ ") || starts_with(line, "*** ")) {
      if (!is_context_range(line.substr(4))) names = candidate_names(line.substr(4));
    } else if (starts_with(line, "Index:")) {
      names = candidate_names(line.substr(6));
    } else if (starts_with(line, "diff --git ")) {
      names = candidate_names(line.substr(11));
    } else {
      for (std::string_view key : {"rename from ", "rename to ", "copy from ", "copy to "})
        if (starts_with(line, key)) names = candidate_names(line.substr(key.size()));
    }
    for (const auto& name : names)
      if (auto why = outside(name))
        return make_error(
            "line " + std::to_string(number) + ": '" + name + "' is " + *why + ", outside the tree",
            "patches name files relative to the project's top, as `diff -ru a b` "
            "writes them (a/src/x.py, b/src/x.py)");
  }
  return {};
}

Status apply_patch(const std::string& tree, const std::string& patch_file, const std::string& label,
                   std::vector<std::string>* warnings) {
  fs::FileInfo info = fs::stat_path(patch_file);
  if (!info.exists) return make_error(label + ": " + patch_file + " does not exist");
  if (info.size > kMaxPatchSize)
    return make_error(label + ": " + patch_file + " is larger than 64 MiB");
  auto text = fs::read_file(patch_file);
  if (!text.ok()) return text.error().context(label);
  if (Status paths = check_patch_paths(*text); !paths.ok())
    return make_error(label + ": refused, " + paths.error().message, paths.error().hint);
  std::string program = find_program("patch");
  if (program.empty())
    return make_error(label + ": GNU patch is needed to apply it and is not on PATH",
                      "install it (Debian: apt-get install patch)");
  ProcessOptions opt;
  opt.env = {{"LC_ALL", "C"}};
  opt.unset_env = {"POSIXLY_CORRECT", "QUOTING_STYLE",         "PATCH_GET",
                   "VERSION_CONTROL", "PATCH_VERSION_CONTROL", "SIMPLE_BACKUP_SUFFIX"};
  for (bool dry : {true, false}) {
    std::vector<std::string> argv = {program};
    if (dry) argv.push_back("--dry-run");
    for (const char* a : {"-p1", "-N", "--batch", "--no-backup-if-mismatch", "--reject-file=-",
                          "--quoting-style=literal", "-d"})
      argv.emplace_back(a);
    argv.push_back(tree);
    argv.push_back("-i");
    argv.push_back(fs::absolute(patch_file));
    auto run = run_process(argv, opt);
    if (!run.ok()) return run.error().context(label);
    if (run->exit_code == 0) {
      if (!dry && warnings) {
        auto fuzzy = fuzzy_hunks(run->out);
        warnings->insert(warnings->end(), fuzzy.begin(), fuzzy.end());
      }
      continue;
    }
    auto why = failures(run->out + "\n" + run->err);
    std::vector<std::string> shown(why.begin(), why.begin() + std::min<size_t>(why.size(), 10));
    if (why.size() > shown.size())
      shown.push_back("and " + std::to_string(why.size() - shown.size()) + " more");
    return make_error(label + ": does not apply" + (dry ? "" : " (the tree is half patched)") +
                          ": " + join(shown, "; "),
                      kRefreshHint);
  }
  return {};
}

}  // namespace lb::source
