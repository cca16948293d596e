#include "build/diagnose.hpp"

#include <algorithm>
#include <optional>

#include "util/strings.hpp"

namespace lb::build {
namespace {

struct Known {
  std::string_view key;
  std::string_view fix;
};

/// Headers (an #include name, or its first directory) and the Debian package shipping them.
constexpr Known kHeaders[] = {
    {"Python.h", "python3-dev"},
    {"openssl/", "libssl-dev"},
    {"ffi.h", "libffi-dev"},
    {"zlib.h", "zlib1g-dev"},
    {"libxml/", "libxml2-dev"},
    {"libxslt/", "libxslt1-dev"},
    {"libexslt/", "libxslt1-dev"},
    {"yaml.h", "libyaml-dev"},
    {"sqlite3.h", "libsqlite3-dev"},
    {"bzlib.h", "libbz2-dev"},
    {"lzma.h", "liblzma-dev"},
    {"libpq-fe.h", "libpq-dev"},
    {"pg_config.h", "libpq-dev"},
    {"mysql.h", "default-libmysqlclient-dev"},
    {"mysql/", "default-libmysqlclient-dev"},
    {"jpeglib.h", "libjpeg-dev"},
    {"png.h", "libpng-dev"},
    {"ft2build.h", "libfreetype-dev"},
    {"curl/", "libcurl4-openssl-dev"},
    {"gmp.h", "libgmp-dev"},
    {"krb5.h", "libkrb5-dev"},
    {"gssapi/", "libkrb5-dev"},
    {"ldap.h", "libldap2-dev"},
    {"lber.h", "libldap2-dev"},
    {"sasl/", "libsasl2-dev"},
    {"readline/", "libreadline-dev"},
    {"ncurses.h", "libncurses-dev"},
    {"curses.h", "libncurses-dev"},
    {"uuid/", "uuid-dev"},
    {"expat.h", "libexpat1-dev"},
    {"glib.h", "libglib2.0-dev"},
    {"hdf5.h", "libhdf5-dev"},
    {"xmlsec/", "libxmlsec1-dev"},
    {"systemd/", "libsystemd-dev"},
    {"dbus/", "libdbus-1-dev"},
};
/// Headers that come from a Python package: the fix is a build requirement.
constexpr Known kPythonHeaders[] = {{"numpy/", "numpy"}, {"pybind11/", "pybind11"}};
/// Libraries (-lNAME) and the Debian package with their link-time .so.
constexpr Known kLibraries[] = {
    {"ssl", "libssl-dev"},
    {"crypto", "libssl-dev"},
    {"z", "zlib1g-dev"},
    {"ffi", "libffi-dev"},
    {"xml2", "libxml2-dev"},
    {"xslt", "libxslt1-dev"},
    {"exslt", "libxslt1-dev"},
    {"yaml", "libyaml-dev"},
    {"sqlite3", "libsqlite3-dev"},
    {"bz2", "libbz2-dev"},
    {"lzma", "liblzma-dev"},
    {"pq", "libpq-dev"},
    {"jpeg", "libjpeg-dev"},
    {"png", "libpng-dev"},
    {"freetype", "libfreetype-dev"},
    {"curl", "libcurl4-openssl-dev"},
    {"gmp", "libgmp-dev"},
    {"mysqlclient", "default-libmysqlclient-dev"},
};

std::optional<std::string_view> lookup(const Known* begin, const Known* end, std::string_view name,
                                       bool prefix) {
  for (const Known* k = begin; k != end; ++k)
    if (name == k->key || (prefix && ends_with(k->key, "/") && starts_with(name, k->key)))
      return k->fix;
  return std::nullopt;
}

/// The text between `open` and the next `close` after it, when both are there.
std::optional<std::string_view> between(std::string_view s, std::string_view open,
                                        std::string_view close) {
  auto a = s.find(open);
  if (a == std::string_view::npos) return std::nullopt;
  a += open.size();
  auto b = s.find(close, a);
  if (b == std::string_view::npos || b == a) return std::nullopt;
  return s.substr(a, b - a);
}

bool is_version_suffix(std::string_view s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
}

enum class Tool { c, cxx, fortran, rust, other };

Tool classify(std::string_view program) {
  std::string_view base = program.substr(program.rfind('/') + 1);
  if (auto dash = base.rfind('-');
      dash != std::string_view::npos && is_version_suffix(base.substr(dash + 1)))
    base = base.substr(0, dash);                // gcc-12, clang-14
  if (ends_with(base, "++")) return Tool::cxx;  // g++, c++, clang++, x86_64-linux-gnu-g++
  for (std::string_view c : {"cc", "gcc", "clang", "icc", "icx", "tcc"})
    if (base == c || ends_with(base, "-" + std::string(c))) return Tool::c;
  if (ends_with(base, "gfortran") || base == "ifort" || base == "f77" || base == "f95")
    return Tool::fortran;
  if (base == "rustc" || base == "cargo") return Tool::rust;
  return Tool::other;
}

std::string first_word(std::string_view s) {
  auto words = split_ws(s);
  return words.empty() ? std::string() : words[0];
}

std::string missing_program(std::string_view program, const LogContext& ctx) {
  std::string name = "'" + std::string(program) + "'";
  switch (classify(program)) {
    case Tool::c:
    case Tool::cxx: {
      bool cxx = classify(program) == Tool::cxx;
      const char* var = cxx ? "CXX" : "CC";
      std::string what = cxx ? "the C++ compiler " : "the C compiler ";
      std::string install = cxx ? "g++" : "gcc";
      const std::string& set = cxx ? ctx.cxx : ctx.cc;
      if (!set.empty() && first_word(set) == program)
        return what + name + " (from $" + var + ") was not found: fix " + var +
               ", or unset it and install " + install + " (apt-get install build-essential)";
      return what + name + " was not found: install " + install +
             " (apt-get install build-essential)";
    }
    case Tool::fortran:
      return "the Fortran compiler " + name +
             " was not found: install gfortran (apt-get install gfortran)";
    case Tool::rust:
      return "the Rust toolchain (" + name +
             ") was not found: install rustc and cargo (apt-get install cargo, or rustup)";
    case Tool::other:
      break;
  }
  return "the program " + name +
         " was not found: install it, or add the package that provides it to [build-system] "
         "requires";
}

std::string missing_header(std::string_view header) {
  std::string name(header);
  const Known* py_end = kPythonHeaders + std::size(kPythonHeaders);
  if (auto pkg = lookup(kPythonHeaders, py_end, header, true))
    return "the header " + name + " was not found: add " + std::string(*pkg) +
           " to [build-system] requires";
  if (auto pkg = lookup(kHeaders, kHeaders + std::size(kHeaders), header, true))
    return "the header " + name + " was not found: install " + std::string(*pkg);
  return "the header " + name +
         " was not found: install the -dev package that provides it (`apt-file search " + name +
         "` names it)";
}

std::string missing_library(std::string_view lib) {
  std::string so = "lib" + std::string(lib) + ".so";
  if (auto pkg = lookup(kLibraries, kLibraries + std::size(kLibraries), lib, false))
    return "the library lib" + std::string(lib) + " was not found by the linker: install " +
           std::string(*pkg);
  return "the library lib" + std::string(lib) +
         " was not found by the linker: install the -dev package that provides " + so +
         " (`apt-file search " + so + "` names it)";
}

/// A plausible name taken from a log line (not a sentence that happened to match).
bool plausible(std::string_view name) {
  return !name.empty() && name.size() <= 200 && name.find(' ') == std::string_view::npos &&
         name.find('\'') == std::string_view::npos;
}

/// Whether `s` ends with a compiler's source position, "FILE:LINE" or "FILE:LINE:COLUMN".
bool at_position(std::string_view s) {
  auto strip_number = [&s] {
    size_t n = 0;
    while (n < s.size() && s[s.size() - 1 - n] >= '0' && s[s.size() - 1 - n] <= '9') ++n;
    if (n == 0 || n == s.size() || s[s.size() - 1 - n] != ':') return false;
    s.remove_suffix(n + 1);
    return true;
  };
  if (!strip_number()) return false;
  (void)strip_number();  // the line, when the first was the column
  return !s.empty();
}

std::optional<std::string> diagnose_line(std::string_view line, const LogContext& ctx) {
  // gcc: "x.c:1:10: fatal error: foo.h: No such file or directory";
  // clang: "x.c:1:10: fatal error: 'foo.h' file not found".
  if (auto pos = line.find("fatal error: "); pos != std::string_view::npos) {
    std::string_view before = line.substr(0, pos);
    std::string_view rest = line.substr(pos + 13);
    bool at_source_line =
        ends_with(before, ": ") && at_position(before.substr(0, before.size() - 2));
    constexpr std::string_view kGcc = ": No such file or directory";
    if (at_source_line && ends_with(rest, kGcc) &&
        plausible(rest.substr(0, rest.size() - kGcc.size())))
      return missing_header(rest.substr(0, rest.size() - kGcc.size()));
    if (auto h = between(rest, "'", "' file not found"); h && plausible(*h))
      return missing_header(*h);
  }
  // setuptools (distutils' spawn), new and old wording.
  if (auto p = between(line, "error: command '", "' failed: No such file or directory");
      p && plausible(*p))
    return missing_program(*p, ctx);
  if (auto p = between(line, "unable to execute '", "': No such file or directory");
      p && plausible(*p))
    return missing_program(*p, ctx);
  // The shell: "/bin/sh: 1: cc: not found", "bash: line 1: gcc: command not found".
  if (line.find("sh: ") != std::string_view::npos) {
    for (std::string_view suffix : {": command not found", ": not found"}) {
      if (!ends_with(line, suffix)) continue;
      std::string_view head = line.substr(0, line.size() - suffix.size());
      auto colon = head.rfind(": ");
      if (colon != std::string_view::npos && plausible(head.substr(colon + 2)))
        return missing_program(head.substr(colon + 2), ctx);
    }
  }
  if (line.find("No CMAKE_CXX_COMPILER could be found") != std::string_view::npos)
    return std::string(
        "CMake found no C++ compiler: install g++ (apt-get install build-essential)");
  if (line.find("No CMAKE_C_COMPILER could be found") != std::string_view::npos)
    return std::string("CMake found no C compiler: install gcc (apt-get install build-essential)");
  if (line.find("Unknown compiler(s):") != std::string_view::npos)
    return std::string(
        "Meson found no C or C++ compiler: install gcc and g++ (apt-get install "
        "build-essential)");
  if (line.find("can't find Rust compiler") != std::string_view::npos)
    return missing_program("cargo", ctx);
  // ld: "/usr/bin/ld: cannot find -lfoo: No such file or directory" (or without the reason).
  if (auto pos = line.find("cannot find -l"); pos != std::string_view::npos) {
    std::string_view lib = line.substr(pos + 14);
    lib = lib.substr(0, std::min(lib.find(':'), lib.find(' ')));
    if (plausible(lib)) return missing_library(lib);
  }
  if (auto m = between(line, "ModuleNotFoundError: No module named '", "'"); m && plausible(*m))
    return "the module '" + std::string(*m) +
           "' is not installed in the build env: add the package that provides it to "
           "[build-system] requires";
  // pkg-config: "Package foo was not found in the pkg-config search path." and
  // "Package 'foo', required by 'bar', not found".
  std::optional<std::string_view> pc =
      between(line, "Package ", " was not found in the pkg-config search path");
  if (!pc && line.find("not found") != std::string_view::npos)
    pc = between(line, "Package '", "', required by");
  if (pc && plausible(*pc))
    return "the pkg-config package '" + std::string(*pc) +
           "' was not found: install the -dev package that provides " + std::string(*pc) +
           ".pc (`apt-file search " + std::string(*pc) + ".pc` names it)";
  return std::nullopt;
}

/// One line as a terminal would show it, without escape sequences or control characters.
std::string clean_line(std::string_view line) {
  while (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (auto cr = line.rfind('\r'); cr != std::string_view::npos) line = line.substr(cr + 1);
  std::string out;
  out.reserve(std::min(line.size(), kLogLineBytes + 8));
  for (size_t i = 0; i < line.size(); ++i) {
    auto c = static_cast<unsigned char>(line[i]);
    if (c == 0x1b) {  // ESC: CSI "ESC [ ... final", OSC "ESC ] ... BEL|ESC \", else 2 bytes
      if (i + 1 < line.size() && line[i + 1] == '[') {
        i += 2;
        while (i < line.size() && !(line[i] >= 0x40 && line[i] <= 0x7e)) ++i;
      } else if (i + 1 < line.size() && line[i + 1] == ']') {
        i += 2;
        while (i < line.size() && line[i] != '\a' && line[i] != 0x1b) ++i;
        if (i < line.size() && line[i] == 0x1b) ++i;
      } else {
        ++i;
      }
      continue;
    }
    if ((c < 0x20 && c != '\t') || c == 0x7f) continue;
    out.push_back(static_cast<char>(c));
  }
  if (out.size() > kLogLineBytes) {
    size_t cut = kLogLineBytes;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xc0) == 0x80) --cut;
    out.resize(cut);
    out += "...";
  }
  return out;
}

}  // namespace

std::vector<std::string> diagnose_build_log(std::string_view log, const LogContext& context) {
  if (log.size() > kDiagnoseBytes) log = log.substr(log.size() - kDiagnoseBytes);
  std::vector<std::string> found;
  size_t start = 0;
  while (start < log.size() && found.size() < kMaxDiagnoses) {
    size_t end = log.find('\n', start);
    if (end == std::string_view::npos) end = log.size();
    std::string_view raw = log.substr(start, end - start);
    start = end + 1;
    // Cheap filter first: every pattern above has one of these words.
    if (raw.find("found") == std::string_view::npos &&
        raw.find("No such file") == std::string_view::npos &&
        raw.find("No module") == std::string_view::npos &&
        raw.find("Unknown compiler") == std::string_view::npos &&
        raw.find("cannot find") == std::string_view::npos &&
        raw.find("can't find") == std::string_view::npos)
      continue;
    auto d = diagnose_line(clean_line(raw), context);
    if (d && std::find(found.begin(), found.end(), *d) == found.end()) found.push_back(*d);
  }
  return found;
}

std::vector<std::string> log_tail(std::string_view log, size_t max_lines) {
  std::vector<std::string> lines;
  size_t end = log.size();
  while (end > 0 && lines.size() < max_lines) {
    size_t nl = log.rfind('\n', end - 1);
    size_t begin = nl == std::string_view::npos ? 0 : nl + 1;
    std::string line = clean_line(log.substr(begin, end - begin));
    if (!trim(line).empty()) lines.push_back(std::move(line));
    if (nl == std::string_view::npos) break;
    end = nl;
  }
  std::reverse(lines.begin(), lines.end());
  return lines;
}

}  // namespace lb::build
