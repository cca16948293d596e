#include "pep/tags.hpp"

#include <algorithm>
#include <cctype>

#include "pep/name.hpp"
#include "pep/version.hpp"
#include "util/strings.hpp"

namespace lb::pep {
namespace {

constexpr int kLastGlibcMinor = 50;  // packaging's guess for a future glibc major bump

bool manylinux_capable(const std::vector<std::string>& archs) {
  static constexpr std::string_view kAllowed[] = {
      "x86_64", "aarch64", "ppc64", "ppc64le", "s390x", "loongarch64", "riscv64", "armv7l", "i686"};
  return std::any_of(archs.begin(), archs.end(), [](const std::string& a) {
    return std::find(std::begin(kAllowed), std::end(kAllowed), a) != std::end(kAllowed);
  });
}

void add_manylinux(const TagInputs& in, const std::vector<std::string>& archs,
                   std::vector<std::string>& out) {
  if (in.glibc_major <= 0 || !manylinux_capable(archs)) return;
  bool x86 = std::any_of(archs.begin(), archs.end(),
                         [](const std::string& a) { return a == "x86_64" || a == "i686"; });
  const int oldest_minor = x86 ? 5 : 17;  // on glibc major 2
  std::vector<std::pair<int, int>> maxima = {{in.glibc_major, in.glibc_minor}};
  for (int major = in.glibc_major - 1; major > 1; --major)
    maxima.push_back({major, kLastGlibcMinor});
  for (const std::string& arch : archs) {
    for (auto [major, max_minor] : maxima) {
      int min_minor = major == 2 ? oldest_minor : 0;
      for (int minor = max_minor; minor >= min_minor; --minor) {
        std::string suffix = "_" + arch;
        out.push_back("manylinux_" + std::to_string(major) + "_" + std::to_string(minor) + suffix);
        if (major != 2) continue;
        if (minor == 17) out.push_back("manylinux2014" + suffix);
        if (minor == 12) out.push_back("manylinux2010" + suffix);
        if (minor == 5) out.push_back("manylinux1" + suffix);
      }
    }
  }
}

std::string nodot(int major, int minor) {
  return std::to_string(major) + std::to_string(minor);
}

void add_product(std::vector<Tag>& out, const std::string& interp, const std::string& abi,
                 const std::vector<std::string>& platforms) {
  for (const std::string& p : platforms) out.push_back(Tag{interp, abi, p});
}

void add_cpython(const TagInputs& in, const std::vector<std::string>& platforms,
                 std::vector<Tag>& out) {
  std::string interp = "cp" + nodot(in.py_major, in.py_minor);
  std::vector<std::string> abis = {in.abi.empty() ? interp : to_lower(in.abi)};
  // debug builds (cp311d) also load extensions built for the release ABI (cp311)
  if (in.py_major == 3 && in.py_minor >= 8 && abis[0].size() > 2 && abis[0].back() == 'd' &&
      starts_with(abis[0], "cp"))
    abis.push_back(abis[0].substr(0, abis[0].size() - 1));
  std::erase_if(abis, [](const std::string& a) { return a == "abi3" || a == "none"; });
  for (const std::string& abi : abis) add_product(out, interp, abi, platforms);

  bool threaded =
      !abis.empty() && starts_with(abis[0], "cp") &&
      abis[0].find('t', abis[0].find_first_not_of("0123456789", 2)) != std::string::npos;
  bool abi3 = (in.py_major > 3 || (in.py_major == 3 && in.py_minor >= 2)) && !threaded;
  if (abi3) add_product(out, interp, "abi3", platforms);
  add_product(out, interp, "none", platforms);
  if (abi3)
    for (int minor = in.py_minor - 1; minor > 1; --minor)
      add_product(out, "cp" + nodot(in.py_major, minor), "abi3", platforms);
}

void add_generic(const TagInputs& in, const std::vector<std::string>& platforms,
                 std::vector<Tag>& out) {
  std::string interp = to_lower(in.implementation) + nodot(in.py_major, in.py_minor);
  std::vector<std::string> abis;
  if (!in.abi.empty()) abis.push_back(to_lower(in.abi));
  if (std::find(abis.begin(), abis.end(), "none") == abis.end()) abis.push_back("none");
  for (const std::string& abi : abis) add_product(out, interp, abi, platforms);
}

void add_compatible(const TagInputs& in, const std::vector<std::string>& platforms,
                    std::vector<Tag>& out) {
  std::vector<std::string> pys = {"py" + nodot(in.py_major, in.py_minor),
                                  "py" + std::to_string(in.py_major)};
  for (int minor = in.py_minor - 1; minor >= 0; --minor)
    pys.push_back("py" + nodot(in.py_major, minor));
  for (const std::string& py : pys) add_product(out, py, "none", platforms);
  if (in.implementation == "cp")
    out.push_back(Tag{"cp" + nodot(in.py_major, in.py_minor), "none", "any"});
  if (in.implementation == "pp") out.push_back(Tag{"pp3", "none", "any"});
  for (const std::string& py : pys) out.push_back(Tag{py, "none", "any"});
}

}  // namespace

std::vector<std::string> platform_tags(const TagInputs& in) {
  std::string plat = to_lower(in.platform);
  if (!starts_with(plat, "linux_")) return {plat};
  std::string arch = in.arch.empty() ? plat.substr(6) : to_lower(in.arch);
  std::vector<std::string> archs = {arch};
  if (arch == "armv8l") archs.push_back("armv7l");
  std::vector<std::string> out;
  add_manylinux(in, archs, out);
  if (in.musl_major > 0)
    for (const std::string& a : archs)
      for (int minor = in.musl_minor; minor >= 0; --minor)
        out.push_back("musllinux_" + std::to_string(in.musl_major) + "_" + std::to_string(minor) +
                      "_" + a);
  for (const std::string& a : archs) out.push_back("linux_" + a);
  return out;
}

std::vector<Tag> generate_tags(const TagInputs& in) {
  std::vector<std::string> platforms = platform_tags(in);
  std::vector<Tag> out;
  if (in.implementation == "cp")
    add_cpython(in, platforms, out);
  else
    add_generic(in, platforms, out);
  add_compatible(in, platforms, out);
  return out;
}

std::vector<Tag> parse_tag_set(std::string_view text) {
  std::vector<std::string> fields = split(to_lower(text), '-');
  if (fields.size() != 3) return {};
  std::vector<Tag> out;
  for (const std::string& i : split(fields[0], '.'))
    for (const std::string& a : split(fields[1], '.'))
      for (const std::string& p : split(fields[2], '.'))
        if (!i.empty() && !a.empty() && !p.empty()) out.push_back(Tag{i, a, p});
  return out;
}

Result<WheelFilename> WheelFilename::parse(std::string_view filename) {
  auto fail = [&](const std::string& why) -> Error {
    return make_error("invalid wheel file name " + quoted(filename) + ": " + why,
                      "wheel files are named {name}-{version}(-{build})?-{python}-{abi}-"
                      "{platform}.whl (PEP 427), e.g. foo_bar-1.0-py3-none-any.whl");
  };
  if (!ends_with(filename, ".whl")) return fail("it does not end in .whl");
  std::vector<std::string> parts = split(filename.substr(0, filename.size() - 4), '-');
  if (parts.size() != 5 && parts.size() != 6)
    return fail("expected 5 or 6 '-'-separated fields, found " + std::to_string(parts.size()));
  WheelFilename w;
  w.name = parts[0];
  bool name_ok = !w.name.empty() && w.name.find("__") == std::string::npos &&
                 std::all_of(w.name.begin(), w.name.end(), [](char c) {
                   return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.';
                 });
  if (!name_ok) return fail("invalid project name " + quoted(w.name));
  w.version = parts[1];
  if (!Version::parse(w.version)) return fail("invalid version " + quoted(w.version));
  if (parts.size() == 6) {
    w.build = parts[2];
    if (w.build.empty() || !std::isdigit(static_cast<unsigned char>(w.build[0])))
      return fail("build tag " + quoted(w.build) + " must start with a digit");
  }
  size_t n = parts.size();
  w.tags = parse_tag_set(parts[n - 3] + "-" + parts[n - 2] + "-" + parts[n - 1]);
  if (w.tags.empty()) return fail("empty python, abi or platform tag");
  return w;
}

std::string WheelFilename::normalized_name() const {
  return normalize_name(name);
}

Result<SdistFilename> SdistFilename::parse(std::string_view filename) {
  std::string_view stem;
  for (std::string_view ext : {".tar.gz", ".zip"})
    if (ends_with(filename, ext)) stem = filename.substr(0, filename.size() - ext.size());
  std::string hint = "source distributions are named {name}-{version}.tar.gz or .zip";
  if (stem.empty())
    return make_error("invalid sdist file name " + quoted(filename) + ": not .tar.gz or .zip",
                      hint);
  for (size_t dash = stem.rfind('-'); dash != std::string_view::npos && dash > 0;
       dash = stem.rfind('-', dash - 1)) {
    if (Version::parse(stem.substr(dash + 1)))
      return SdistFilename{std::string(stem.substr(0, dash)), std::string(stem.substr(dash + 1))};
  }
  return make_error(
      "invalid sdist file name " + quoted(filename) + ": no '-' followed by a PEP 440 version",
      hint);
}

std::string SdistFilename::normalized_name() const {
  return normalize_name(name);
}

}  // namespace lb::pep
