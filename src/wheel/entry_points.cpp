// entry_points.txt and the console scripts pip generates from it.
#include <algorithm>
#include <unordered_map>

#include "util/strings.hpp"
#include "wheel/metadata.hpp"
#include "wheel/zip_reader.hpp"

namespace lb::wheel {
namespace {

// Python's \w, approximately: ASCII letters, digits, '_' and any non-ASCII byte.
bool is_word(char c) {
  auto u = static_cast<unsigned char>(c);
  return u >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '_';
}

// "a.b.c": non-empty \w+ segments joined by dots.
bool is_dotted_name(std::string_view s) {
  if (s.empty()) return false;
  for (const auto& seg : split(s, '.'))
    if (seg.empty() || !std::all_of(seg.begin(), seg.end(), is_word)) return false;
  return true;
}

// A script name becomes a file name in bin/: distlib's (\w|[-.+])+, and not "." / "..".
bool is_script_name(std::string_view s) {
  if (s.empty() || s.find_first_not_of('.') == std::string_view::npos) return false;
  if (!detail::valid_utf8(s)) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return is_word(c) || c == '-' || c == '.' || c == '+'; });
}

// "module:attr [extras]" -> EntryPoint (name filled by the caller).
Result<EntryPoint> parse_script_value(std::string_view value) {
  if (size_t br = value.find('['); br != std::string_view::npos) {
    if (value.back() != ']') return make_error("unterminated [extras]");
    value = trim(value.substr(0, br));
  }
  size_t colon = value.find(':');
  if (colon == std::string_view::npos)
    return make_error("\"" + std::string(value) + "\" has no \":callable\" part");
  EntryPoint ep;
  ep.module = std::string(trim(value.substr(0, colon)));
  ep.attr = std::string(trim(value.substr(colon + 1)));
  if (!is_dotted_name(ep.module)) return make_error("bad module name \"" + ep.module + "\"");
  if (!is_dotted_name(ep.attr)) return make_error("bad callable name \"" + ep.attr + "\"");
  return ep;
}

/// Later entries win, as in pip's dict; `index` (name -> position) keeps this linear.
void add_or_replace(std::vector<EntryPoint>& list, std::unordered_map<std::string, size_t>& index,
                    EntryPoint ep) {
  auto [it, fresh] = index.emplace(ep.name, list.size());
  if (fresh)
    list.push_back(std::move(ep));
  else
    list[it->second] = std::move(ep);
}

}  // namespace

Result<EntryPoints> parse_entry_points(std::string_view text) {
  EntryPoints out;
  std::vector<EntryPoint>* group = nullptr;  // null: a group we do not use
  std::unordered_map<std::string, size_t> console_index, gui_index, *index = nullptr;
  int lineno = 0;
  for (const auto& raw : split(text, '\n')) {
    ++lineno;
    std::string_view line = trim(raw);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      std::string_view section = trim(line.substr(1, line.size() - 2));
      group = section == "console_scripts" ? &out.console_scripts
              : section == "gui_scripts"   ? &out.gui_scripts
                                           : nullptr;
      index = section == "console_scripts" ? &console_index : &gui_index;
      continue;
    }
    if (!group) continue;
    auto where = "entry_points.txt:" + std::to_string(lineno);
    const char* hint = "the package's entry_points.txt is broken; report it to its maintainers";
    size_t eq = line.find('=');
    if (eq == std::string_view::npos)
      return make_error(where + ": expected \"name = module:callable\"", hint);
    std::string name(trim(line.substr(0, eq)));
    if (!is_script_name(name))
      return make_error(where + ": script name \"" + name + "\" is not a safe file name", hint);
    auto ep = parse_script_value(trim(line.substr(eq + 1)));
    if (!ep.ok()) return make_error(where + ": " + ep.error().message, hint);
    ep->name = std::move(name);
    add_or_replace(*group, *index, std::move(*ep));
  }
  return out;
}

std::string render_shebang(const std::string& python_path) {
  // distlib ScriptMaker._get_shebang: enquote_executable, then _build_shebang (POSIX).
  std::string exe = python_path;
  if (exe.find(' ') != std::string::npos) {
    if (starts_with(exe, "/usr/bin/env ")) {
      std::string rest = exe.substr(13);
      if (rest.find(' ') != std::string::npos && !starts_with(rest, "\""))
        exe = "/usr/bin/env \"" + rest + "\"";
    } else if (!starts_with(exe, "\"")) {
      exe = "\"" + exe + "\"";
    }
  }
  if (exe.find(' ') == std::string::npos && exe.size() + 3 <= 127) return "#!" + exe + "\n";
  return "#!/bin/sh\n'''exec' " + exe + " \"$0\" \"$@\"\n' '''\n";
}

std::string render_script(const EntryPoint& ep, const std::string& python_shebang_path) {
  std::string import_name = ep.attr.substr(0, ep.attr.find('.'));
  return render_shebang(python_shebang_path) +
         "# -*- coding: utf-8 -*-\n"
         "import re\n"
         "import sys\n"
         "from " +
         ep.module + " import " + import_name +
         "\n"
         "if __name__ == '__main__':\n"
         "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n"
         "    sys.exit(" +
         ep.attr + "())\n";
}

}  // namespace lb::wheel
