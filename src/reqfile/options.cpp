#include "reqfile/options.hpp"

#include <optional>

#include "util/strings.hpp"

namespace lb::reqfile::detail {
namespace {

struct Spec {
  std::string_view name;
  char short_name;
  bool takes_value;
  OptId id;
};

constexpr Spec kSpecs[] = {
    {"--index-url", 'i', true, OptId::index_url},
    {"--extra-index-url", 0, true, OptId::extra_index_url},
    {"--no-index", 0, false, OptId::no_index},
    {"--find-links", 'f', true, OptId::find_links},
    {"--no-binary", 0, true, OptId::no_binary},
    {"--only-binary", 0, true, OptId::only_binary},
    {"--prefer-binary", 0, false, OptId::prefer_binary},
    {"--require-hashes", 0, false, OptId::require_hashes},
    {"--pre", 0, false, OptId::pre},
    {"--trusted-host", 0, true, OptId::trusted_host},
    {"--requirement", 'r', true, OptId::requirement},
    {"--constraint", 'c', true, OptId::constraint},
    {"--editable", 'e', true, OptId::editable},
    {"--hash", 0, true, OptId::hash},
    {"--config-settings", 'C', true, OptId::config_settings},
    {"--global-option", 0, true, OptId::global_option},
    {"--install-option", 0, true, OptId::install_option},
};

constexpr const char* kAllowedHint =
    "a requirements file accepts -i/--index-url, --extra-index-url, --no-index, "
    "-f/--find-links, --no-binary, --only-binary, --prefer-binary, --require-hashes, --pre, "
    "--trusted-host, -r/--requirement, -c/--constraint, -e/--editable, and after a "
    "requirement --hash and --config-settings; give other options on the command line";

Error unknown_option(std::string_view opt) {
  return make_error("unknown option " + std::string(opt) + " (not allowed in requirements files)",
                    kAllowedHint);
}

Result<const Spec*> find_long(std::string_view name) {
  const Spec* match = nullptr;
  int prefix_matches = 0;
  for (const Spec& s : kSpecs) {
    if (s.name == name) return &s;
    if (starts_with(s.name, name)) {
      match = &s;
      ++prefix_matches;
    }
  }
  if (prefix_matches == 1 && name.size() > 2) return match;
  if (prefix_matches > 1 && name.size() > 2)
    return make_error("ambiguous option " + std::string(name), "spell the option out in full");
  return unknown_option(name);
}

const Spec* find_short(char c) {
  for (const Spec& s : kSpecs)
    if (s.short_name == c) return &s;
  return nullptr;
}

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

}  // namespace

bool is_per_requirement(OptId id) {
  return id == OptId::hash || id == OptId::config_settings || id == OptId::global_option ||
         id == OptId::install_option;
}

Result<std::vector<std::string>> shell_split(std::string_view s) {
  std::vector<std::string> words;
  std::string cur;
  bool in_word = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (in_word) words.push_back(std::move(cur));
      cur.clear();
      in_word = false;
    } else if (c == '\\') {
      in_word = true;
      if (i + 1 < s.size()) cur += s[++i];
    } else if (c == '\'' || c == '"') {
      in_word = true;
      size_t end = i + 1;
      for (; end < s.size() && s[end] != c; ++end) {
        if (c == '"' && s[end] == '\\' && end + 1 < s.size() &&
            std::string_view("\\\"$`").find(s[end + 1]) != std::string_view::npos)
          ++end;
        cur += s[end];
      }
      if (end >= s.size())
        return make_error("no closing quotation in " + lb::quoted(s), "close the quote");
      i = end;
    } else {
      in_word = true;
      cur += c;
    }
  }
  if (in_word) words.push_back(std::move(cur));
  return words;
}

Result<SplitLine> split_line(std::string_view line) {
  SplitLine out;
  size_t opt_start = line.size();
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '-' && (i == 0 || is_blank(line[i - 1]))) {
      opt_start = i;
      break;
    }
  }
  out.args = std::string(trim(line.substr(0, opt_start)));
  LB_ASSIGN(std::vector<std::string> words, shell_split(line.substr(opt_start)));
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    const Spec* spec = nullptr;
    std::optional<std::string> value;
    if (starts_with(w, "--")) {
      size_t eq = w.find('=');
      LB_ASSIGN(spec, find_long(std::string_view(w).substr(0, eq)));
      if (eq != std::string::npos) {
        if (!spec->takes_value)
          return make_error("option " + std::string(spec->name) + " does not take a value",
                            "write it alone: " + std::string(spec->name));
        value = w.substr(eq + 1);
      }
    } else if (w.size() >= 2 && w[0] == '-') {
      spec = find_short(w[1]);
      if (!spec) return unknown_option(w.substr(0, 2));
      if (w.size() > 2) value = w.substr(2);
    } else {
      return make_error("unexpected argument " + lb::quoted(w) + " after options",
                        "put one requirement per line, before its options");
    }
    if (spec->takes_value && !value) {
      if (i + 1 >= words.size())
        return make_error("option " + std::string(spec->name) + " needs a value",
                          "write " + std::string(spec->name) + " VALUE");
      value = words[++i];
    }
    out.options.push_back({spec->id, std::string(spec->name), value.value_or("")});
  }
  return out;
}

}  // namespace lb::reqfile::detail
