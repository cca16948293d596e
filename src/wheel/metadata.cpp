// METADATA / PKG-INFO / WHEEL: the email-header format.
#include "wheel/metadata.hpp"

#include "util/strings.hpp"

namespace lb::wheel {
namespace {

bool is_field_char(char c) {
  return c >= 0x21 && c <= 0x7e && c != ':';
}

// "Name: value" -> {name, value}; false when the line is not a header (Python's headerRE).
bool split_header(std::string_view line, Header& out) {
  size_t colon = 0;
  while (colon < line.size() && is_field_char(line[colon])) ++colon;
  if (colon == 0 || colon == line.size() || line[colon] != ':') return false;
  out.first = std::string(line.substr(0, colon));
  out.second = std::string(trim(line.substr(colon + 1)));
  return true;
}

}  // namespace

std::vector<Header> parse_email_headers(std::string_view text) {
  if (starts_with(text, "\xEF\xBB\xBF")) text.remove_prefix(3);
  std::vector<Header> headers;
  bool first_line = true;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;  // the body starts
    if (line[0] == ' ' || line[0] == '\t') {
      if (!headers.empty()) {  // folded: unfold by dropping the line break (RFC 5322)
        // v = trim(v + line), in place: linear in the header's length however it is folded.
        std::string& v = headers.back().second;
        std::string_view add = v.empty() ? trim(line) : line;
        v.append(add.data(), add.size());
        size_t keep = trim(v).size();
        v.resize(keep);  // v had no leading blanks, so trim only drops trailing ones
      }
    } else if (first_line && starts_with(line, "From ")) {
      // mbox "From " line: ignored, like Python's parser
    } else {
      Header h;
      if (!split_header(line, h)) break;  // not a header: the rest is body
      headers.push_back(std::move(h));
    }
    first_line = false;
  }
  return headers;
}

Result<CoreMetadata> parse_core_metadata(std::string_view text) {
  CoreMetadata m;
  bool have_name = false, have_version = false, have_mv = false, have_rp = false,
       have_summary = false;
  auto set_once = [](bool& seen, std::string& field, std::string& value) {
    if (!seen) field = std::move(value);
    seen = true;
  };
  for (auto& [key, value] : parse_email_headers(text)) {
    std::string k = to_lower(key);
    if (k == "name")
      set_once(have_name, m.name, value);
    else if (k == "version")
      set_once(have_version, m.version, value);
    else if (k == "metadata-version")
      set_once(have_mv, m.metadata_version, value);
    else if (k == "requires-python")
      set_once(have_rp, m.requires_python, value);
    else if (k == "summary")
      set_once(have_summary, m.summary, value);
    else if (k == "requires-dist" && !value.empty())
      m.requires_dist.push_back(std::move(value));
    else if (k == "provides-extra" && !value.empty())
      m.provides_extra.push_back(std::move(value));
  }
  const char* hint = "the package's core metadata is incomplete; report it to its maintainers";
  if (m.name.empty()) return make_error("core metadata has no Name field", hint);
  if (m.version.empty()) return make_error("core metadata has no Version field", hint);
  return m;
}

}  // namespace lb::wheel
