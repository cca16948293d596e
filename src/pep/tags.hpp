// PEP 425 / 600 compatibility tags: the ordered list of tags an interpreter supports, and
// wheel / sdist file-name parsing (PEP 427, PEP 625).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"

namespace lb::pep {

/// One interpreter-abi-platform triple (lower-case).
struct Tag {
  std::string interpreter, abi, platform;
  /// "cp311-cp311-linux_x86_64".
  std::string to_string() const { return interpreter + "-" + abi + "-" + platform; }
  friend bool operator==(const Tag&, const Tag&) = default;
  friend auto operator<=>(const Tag&, const Tag&) = default;
};

/// What generate_tags needs to know about the target interpreter (ask the interpreter).
struct TagInputs {
  std::string implementation;  ///< "cp" (CPython), "pp" (PyPy), ... (sys.implementation short name)
  int py_major = 3, py_minor = 11;
  std::string abi;       ///< e.g. "cp311", "cp311d", "cp313t", "pypy310_pp73"; may be empty
  std::string platform;  ///< sysconfig.get_platform() mangled ([-. ] -> _): "linux_x86_64"
  int glibc_major = 0, glibc_minor = 0;  ///< 0 when not glibc
  int musl_major = 0, musl_minor = 0;    ///< 0 when not musl (adds musllinux_1_Y tags)
  std::string arch;                      ///< "x86_64"; empty = taken from `platform` after "linux_"
};

/// The interpreter's supported tags, most preferred first, as packaging.tags.sys_tags() gives
/// (cpython_tags, or generic_tags for other implementations, then compatible_tags; Linux
/// platforms are manylinux_2_Y down to 2_17 (2_5 on x86_64/i686) with the
/// manylinux2014/2010/1 aliases, then musllinux, then linux_<arch>). macOS platform
/// expansion is not implemented: non-Linux platforms are used as given.
std::vector<Tag> generate_tags(const TagInputs& in);

/// The platform tags alone, most preferred first (the Linux expansion described above).
std::vector<std::string> platform_tags(const TagInputs& in);

/// Expands a possibly compressed tag set ("py2.py3-none-any") into its tags.
std::vector<Tag> parse_tag_set(std::string_view text);

/// A wheel file name: {name}-{version}(-{build})?-{python}-{abi}-{platform}.whl (PEP 427).
struct WheelFilename {
  std::string name;       ///< as written in the file name (usually with "_" for "-")
  std::string version;    ///< as written
  std::string build;      ///< optional build tag, starts with a digit
  std::vector<Tag> tags;  ///< compressed tag sets expanded, in file order
  /// Parses and validates (name, PEP 440 version, build tag, three tag fields).
  static Result<WheelFilename> parse(std::string_view filename);
  /// normalize_name(name).
  std::string normalized_name() const;
};

/// A source distribution file name: {name}-{version}.tar.gz or .zip.
struct SdistFilename {
  std::string name;     ///< as written
  std::string version;  ///< as written
  /// Splits at the last '-' whose remainder is a PEP 440 version.
  static Result<SdistFilename> parse(std::string_view filename);
  /// normalize_name(name).
  std::string normalized_name() const;
};

}  // namespace lb::pep
