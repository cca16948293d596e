// The deterministic pylock.toml emitter.
#include <algorithm>
#include <cstdio>
#include <tuple>

#include "lock/pylock.hpp"
#include "pep/name.hpp"
#include "pep/version.hpp"
#include "util/text.hpp"

namespace lb::lock {
namespace {

std::string str(std::string_view s) {
  return toml_basic_string(s);
}

/// RFC 3339 datetimes are written bare; anything else cannot be a TOML datetime.
bool is_datetime(std::string_view s) {
  return s.size() >= 19 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || c == '-' || c == ':' || c == 'T' || c == 't' ||
                  c == 'Z' || c == 'z' || c == '+' || c == '.' || c == ' ';
         });
}

/// One inline table on one line, `{key = value, ...}`, keys in the order they are added.
class InlineTable {
 public:
  /// `value` is TOML already (a string, a number, a datetime, a table).
  InlineTable& raw(std::string_view key, std::string_view value) {
    if (out_.size() > 1) out_ += ", ";
    out_.append(key).append(" = ").append(value);
    return *this;
  }
  /// A string, left out when empty.
  InlineTable& text(std::string_view key, std::string_view value) {
    return value.empty() ? *this : raw(key, str(value));
  }
  InlineTable& upload_time(std::string_view value) {
    return is_datetime(value) ? raw("upload-time", value) : *this;
  }
  InlineTable& sha256(std::string_view hex) { return raw("hashes", "{sha256 = " + str(hex) + "}"); }
  std::string done() const { return out_ + "}"; }

 private:
  std::string out_ = "{";
};

std::string file_table(const FileRef& f) {
  return InlineTable()
      .raw("name", str(f.name))
      .upload_time(f.upload_time)
      .text("url", f.url)
      .text("path", f.path)
      .raw("size", std::to_string(f.size))
      .sha256(f.sha256)
      .done();
}

std::string vcs_table(const VcsRef& v) {
  return InlineTable()
      .raw("type", str(v.type))
      .text("url", v.url)
      .text("path", v.path)
      .text("requested-revision", v.requested_revision)
      .raw("commit-id", str(v.commit_id))
      .text("subdirectory", v.subdirectory)
      .done();
}

std::string directory_table(const DirectoryRef& d) {
  InlineTable t;
  t.raw("path", str(d.path));
  if (d.editable) t.raw("editable", "true");
  return t.text("subdirectory", d.subdirectory).done();
}

std::string archive_table(const ArchiveRef& a) {
  InlineTable t;
  t.text("url", a.url).text("path", a.path);
  if (a.size != 0) t.raw("size", std::to_string(a.size));
  return t.upload_time(a.upload_time).sha256(a.sha256).text("subdirectory", a.subdirectory).done();
}

/// Sort key for packages: normalised name, then PEP 440 order (text when unparseable), then
/// marker and source.
auto package_less(const Package& a, const Package& b) {
  std::string na = pep::normalize_name(a.name), nb = pep::normalize_name(b.name);
  if (na != nb) return na < nb;
  auto va = pep::Version::parse(a.version), vb = pep::Version::parse(b.version);
  if (va.ok() && vb.ok() && *va != *vb) return *va < *vb;
  if (a.version != b.version) return a.version < b.version;
  // Entries of one name without versions (source trees) differ by marker and source.
  if (a.marker != b.marker) return a.marker < b.marker;
  return describe_source(a) < describe_source(b);
}

template <class T>
void sort_unique(std::vector<T>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

void write_package(std::string& out, Package p) {
  sort_unique(p.dependencies);
  std::sort(p.wheels.begin(), p.wheels.end(), [](const FileRef& a, const FileRef& b) {
    return std::tie(a.name, a.url, a.path) < std::tie(b.name, b.url, b.path);
  });
  out += "\n[[packages]]\n";
  out += "name = " + str(p.name) + "\n";
  if (!p.version.empty()) out += "version = " + str(p.version) + "\n";
  if (!p.marker.empty()) out += "marker = " + str(p.marker) + "\n";
  if (!p.requires_python.empty()) out += "requires-python = " + str(p.requires_python) + "\n";
  if (!p.dependencies.empty()) {
    out += "dependencies = [\n";
    for (const auto& d : p.dependencies) out += "    {name = " + str(d) + "},\n";
    out += "]\n";
  }
  if (!p.index.empty()) out += "index = " + str(p.index) + "\n";
  if (p.vcs) out += "vcs = " + vcs_table(*p.vcs) + "\n";
  if (p.directory) out += "directory = " + directory_table(*p.directory) + "\n";
  if (p.archive) out += "archive = " + archive_table(*p.archive) + "\n";
  if (p.sdist) out += "sdist = " + file_table(*p.sdist) + "\n";
  if (!p.wheels.empty()) {
    out += "wheels = [\n";
    for (const auto& w : p.wheels) out += "    " + file_table(w) + ",\n";
    out += "]\n";
  }
}

}  // namespace

std::string write_pylock(const Lock& lock) {
  std::string out = "lock-version = " + str(lock.lock_version) + "\n";
  auto envs = lock.environments;
  sort_unique(envs);
  if (!envs.empty()) {
    out += "environments = [";
    for (size_t i = 0; i < envs.size(); ++i) out += (i ? ", " : "") + str(envs[i]);
    out += "]\n";
  }
  if (!lock.requires_python.empty()) out += "requires-python = " + str(lock.requires_python) + "\n";
  out += "created-by = " + str(lock.created_by) + "\n";
  auto packages = lock.packages;
  std::stable_sort(packages.begin(), packages.end(), package_less);
  for (auto& p : packages) write_package(out, std::move(p));
  return out;
}

}  // namespace lb::lock
