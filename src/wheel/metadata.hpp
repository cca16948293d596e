// Core metadata (METADATA / PKG-INFO, email-header format) and entry_points.txt, plus the
// console-script text pip generates for an entry point.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/result.hpp"

namespace lb::wheel {

/// The core-metadata fields lavabuild uses
/// (https://packaging.python.org/specifications/core-metadata/).
struct CoreMetadata {
  std::string metadata_version, name, version, requires_python;
  std::vector<std::string> requires_dist;   // in file order, as written
  std::vector<std::string> provides_extra;  // in file order, as written
  std::string summary;
};

/// One header of an email-format file (name as written, value unfolded and trimmed).
using Header = std::pair<std::string, std::string>;

/// Parse the header block of an RFC 822 style file (METADATA, PKG-INFO, WHEEL) the way
/// Python's email parser does: continuation lines start with space/tab; parsing stops at the
/// first blank line (the body) or at the first line that is not a header. Never fails.
std::vector<Header> parse_email_headers(std::string_view text);

/// Parse METADATA / PKG-INFO. Field names are case-insensitive; single-valued fields take their
/// first occurrence; the body (description) is ignored. Missing Name or Version is an error.
Result<CoreMetadata> parse_core_metadata(std::string_view text);

/// One entry of [console_scripts] / [gui_scripts]: `name = module:attr [extras]`.
struct EntryPoint {
  std::string name, module, attr;  // attr may be dotted ("Class.method")
};
struct EntryPoints {
  std::vector<EntryPoint> console_scripts, gui_scripts;
};

/// Parse entry_points.txt (INI). Only the two script groups are returned; other groups are
/// ignored. In script groups every entry must be `module:attr` (extras are dropped) and the
/// script name must be a safe file name. Errors name the line ("entry_points.txt:3").
Result<EntryPoints> parse_entry_points(std::string_view ini_text);

/// The shebang line pip 23 (distlib) writes for `python_path` on POSIX, newline included:
/// "#!<path>\n", or the /bin/sh exec trampoline when the path has a space or the line would
/// exceed 127 bytes.
std::string render_shebang(const std::string& python_path);

/// The exact bytes of the console/GUI script pip 23 generates on POSIX for `ep`, with the
/// interpreter `python_shebang_path` (e.g. "/srv/env/bin/python3"):
///   #!<path>\n# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom <module> import <attr head>
///   if __name__ == '__main__': ... sys.exit(<attr>())
std::string render_script(const EntryPoint& ep, const std::string& python_shebang_path);

}  // namespace lb::wheel
