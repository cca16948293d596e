#include "env/record.hpp"

#include <algorithm>
#include <tuple>

#include "env/types.hpp"
#include "util/hash.hpp"
#include "util/strings.hpp"

namespace lb::env {
namespace {

void append_field(std::string& out, const std::string& field) {
  if (field.find_first_of(",\"\r\n") == std::string::npos) {
    out += field;
    return;
  }
  out += '"';
  for (char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

std::vector<std::string> parse_csv_line(std::string_view line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  return fields;
}

std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    out.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace

std::string render_record_rows(const std::vector<RecordRow>& rows) {
  std::string out;
  for (const auto& r : rows) {
    append_field(out, r.path);
    out += ',';
    append_field(out, r.hash);
    out += ',';
    append_field(out, r.size);
    out += "\r\n";
  }
  return out;
}

std::string render_record(std::vector<RecordRow> rows) {
  std::sort(rows.begin(), rows.end(), [](const RecordRow& a, const RecordRow& b) {
    return std::tie(a.path, a.hash, a.size) < std::tie(b.path, b.hash, b.size);
  });
  return render_record_rows(rows);
}

std::vector<RecordRow> parse_record(std::string_view text) {
  std::vector<RecordRow> rows;
  // Quoted fields cannot hold newlines in practice (paths); split on line ends.
  for (std::string_view line : split(text, '\n')) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    auto f = parse_csv_line(line);
    f.resize(std::max<size_t>(f.size(), 3));
    rows.push_back({f[0], f[1], f[2]});
  }
  return rows;
}

std::string normalize_rel(std::string_view path) {
  std::vector<std::string_view> out;
  for (auto seg : segments(path)) {
    if (seg.empty() || seg == ".") continue;
    if (seg == "..") {
      if (out.empty()) return "";
      out.pop_back();
    } else {
      out.push_back(seg);
    }
  }
  std::string s;
  for (auto seg : out) {
    if (!s.empty()) s += '/';
    s += seg;
  }
  return s;
}

std::string relative_path(std::string_view from_dir, std::string_view to) {
  auto a = from_dir.empty() ? std::vector<std::string_view>{} : segments(from_dir);
  auto b = segments(to);
  size_t common = 0;
  while (common < a.size() && common + 1 < b.size() && a[common] == b[common]) ++common;
  std::string s;
  for (size_t i = common; i < a.size(); ++i) s += "../";
  for (size_t i = common; i < b.size(); ++i) {
    s += b[i];
    if (i + 1 < b.size()) s += '/';
  }
  return s;
}

std::string canonical_content(std::string_view rel_path, std::string_view content,
                              std::string_view final_dir) {
  std::string s(content);
  if (!final_dir.empty()) s = replace_all(std::move(s), final_dir, kEnvPlaceholder);
  // A script's shebang names the env's python in a form that depends on the path's length
  // and spaces (wheel::render_shebang: "#!PATH", or a /bin/sh trampoline past 127 bytes):
  // one form for the digest, so that it does not depend on where the env lives.
  const std::string tramp = "#!/bin/sh\n'''exec' ", tail = " \"$0\" \"$@\"", close = "\n' '''\n";
  if (starts_with(s, tramp)) {
    auto eol = s.find('\n', tramp.size());
    std::string line = s.substr(tramp.size(), eol == std::string::npos ? 0 : eol - tramp.size());
    if (eol != std::string::npos && ends_with(line, tail) &&
        s.compare(eol, close.size(), close) == 0) {
      std::string exe = line.substr(0, line.size() - tail.size());
      if (exe.size() >= 2 && exe.front() == '"' && exe.back() == '"')
        exe = exe.substr(1, exe.size() - 2);
      if (starts_with(exe, kEnvPlaceholder) && exe.find('"') == std::string::npos)
        s = "#!" + exe + "\n" + s.substr(eol + close.size());
    }
  }
  auto slash = rel_path.rfind('/');
  std::string_view base = slash == std::string_view::npos ? rel_path : rel_path.substr(slash + 1);
  if (starts_with(base, "activate")) {
    auto name_slash = final_dir.rfind('/');
    std::string name(name_slash == std::string_view::npos ? final_dir
                                                          : final_dir.substr(name_slash + 1));
    if (!name.empty()) {
      // The prompt as the venv templates of 3.10-3.13+ write it: "(name) " or "name", verbatim
      // inside quotes (older) or shell-quoted (gh-124651). Only these quoted/anchored forms are
      // replaced so unrelated text stays as it is.
      const std::string n = "${LAVABUILD_ENV_NAME}";
      const std::pair<std::string, std::string> forms[] = {
          {"\"(" + name + ") ", "\"(" + n + ") "},
          {"'(" + name + ") '", "'(" + n + ") '"},
          {"\"" + name + "\"", "\"" + n + "\""},
          {"'" + name + "'", "'" + n + "'"},
          {"VIRTUAL_ENV_PROMPT=" + name + "\n", "VIRTUAL_ENV_PROMPT=" + n + "\n"},
          {"VIRTUAL_ENV_PROMPT " + name + "\n", "VIRTUAL_ENV_PROMPT " + n + "\n"},
          {") " + name + " (set_color", ") " + n + " (set_color"},
      };
      for (const auto& [from, to] : forms) s = replace_all(std::move(s), from, to);
    }
    // venv writes the env's path shell-quoted where the shell needs it (gh-124651: a path
    // with a space comes out '/srv/a b/env'): one form for the digest.
    const std::string ph = kEnvPlaceholder;
    s = replace_all(std::move(s), "'" + ph + "'", ph);
  }
  return s;
}

std::string canonical_record(std::string_view record_text, const std::string& lib_dir,
                             const CanonicalLookup& lookup) {
  auto rows = parse_record(record_text);
  for (auto& r : rows) {
    std::string rel = normalize_rel(lib_dir + "/" + r.path);
    if (rel.empty()) continue;
    if (auto c = lookup(rel)) {
      r.hash = record_hash_from_hex(c->first);
      r.size = std::to_string(c->second);
    }
  }
  return render_record_rows(rows);
}

}  // namespace lb::env
