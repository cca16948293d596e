// PEP 610 direct_url.json, byte-identical to pip's json.dumps(d, sort_keys=True).
#include <cstdint>

#include "env/install.hpp"

namespace lb::env {
namespace {

void append_hex4(std::string& out, unsigned v) {
  static const char* d = "0123456789abcdef";
  out += "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) out += d[(v >> shift) & 15];
}

/// Python json.dumps string (ensure_ascii=True): non-ASCII as \u escapes of UTF-16 units.
std::string py_json_string(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\t':
        out += "\\t";
        continue;
      case '\b':
        out += "\\b";
        continue;
      case '\f':
        out += "\\f";
        continue;
      default:
        break;
    }
    if (c < 0x20) {
      append_hex4(out, c);
    } else if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      // Decode one UTF-8 sequence; invalid bytes become U+FFFD.
      int extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : -1;
      uint32_t cp = extra == 3 ? c & 7u : extra == 2 ? c & 15u : c & 31u;
      bool ok = extra > 0 && i + static_cast<size_t>(extra) < s.size();
      for (int k = 1; ok && k <= extra; ++k) {
        auto cc = static_cast<unsigned char>(s[i + static_cast<size_t>(k)]);
        if ((cc & 0xC0) != 0x80) ok = false;
        cp = (cp << 6) | (cc & 63u);
      }
      if (!ok) {
        append_hex4(out, 0xFFFD);
        continue;
      }
      i += static_cast<size_t>(extra);
      if (cp >= 0x10000) {
        cp -= 0x10000;
        append_hex4(out, 0xD800 + (cp >> 10));
        append_hex4(out, 0xDC00 + (cp & 0x3FF));
      } else {
        append_hex4(out, cp);
      }
    }
  }
  return out + "\"";
}

}  // namespace

std::string direct_url_json(const DirectUrl& u) {
  // Keys sorted: archive_info / dir_info < subdirectory < url < vcs_info.
  std::string out = "{";
  if (!u.vcs.empty()) {
    // vcs_info comes after url, below.
  } else if (u.is_dir) {
    out += u.editable ? "\"dir_info\": {\"editable\": true}, " : "\"dir_info\": {}, ";
  } else if (u.sha256.empty()) {
    out += "\"archive_info\": {}, ";
  } else {
    out += "\"archive_info\": {\"hash\": " + py_json_string("sha256=" + u.sha256) +
           ", \"hashes\": {\"sha256\": " + py_json_string(u.sha256) + "}}, ";
  }
  if (!u.subdirectory.empty()) out += "\"subdirectory\": " + py_json_string(u.subdirectory) + ", ";
  out += "\"url\": " + py_json_string(u.url);
  if (!u.vcs.empty()) {
    out += ", \"vcs_info\": {";
    if (!u.commit_id.empty()) out += "\"commit_id\": " + py_json_string(u.commit_id) + ", ";
    if (!u.requested_revision.empty())
      out += "\"requested_revision\": " + py_json_string(u.requested_revision) + ", ";
    out += "\"vcs\": " + py_json_string(u.vcs) + "}";
  }
  return out + "}";
}

}  // namespace lb::env
