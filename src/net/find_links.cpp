// Find-links directories and matching files to projects.
#include "net/index.hpp"
#include "net/url.hpp"
#include "pep/name.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

#include <cctype>

namespace lb::net {

static constexpr std::string_view kArchiveSuffixes[] = {".whl", ".tar.gz", ".zip"};

bool filename_matches_project(std::string_view filename, std::string_view normalized_name) {
  std::string_view stem;
  for (std::string_view suffix : kArchiveSuffixes)
    if (ends_with(to_lower(filename), suffix))
      stem = filename.substr(0, filename.size() - suffix.size());
  if (stem.empty()) return false;
  if (ends_with(to_lower(filename), ".whl")) {  // the name never contains '-' in a wheel
    return pep::normalize_name(stem.substr(0, stem.find('-'))) == normalized_name;
  }
  // sdist: "<name>-<version>" where the name may itself contain '-' (pip's rule).
  for (size_t dash = stem.find('-'); dash != std::string_view::npos;
       dash = stem.find('-', dash + 1)) {
    std::string_view version = stem.substr(dash + 1);
    bool versionish =
        !version.empty() && (std::isdigit(static_cast<unsigned char>(version[0])) ||
                             (version.size() > 1 && (version[0] == 'v' || version[0] == 'V') &&
                              std::isdigit(static_cast<unsigned char>(version[1]))));
    if (versionish && pep::normalize_name(stem.substr(0, dash)) == normalized_name) return true;
  }
  return false;
}

Result<std::vector<IndexFile>> list_find_links_dir(const std::string& dir) {
  auto names = fs::list_dir(dir);
  if (!names.ok())
    return make_error("cannot list find-links directory " + dir + ": " + names.error().message,
                      "check the -f/--find-links path");
  std::vector<IndexFile> files;
  for (const std::string& name : *names) {
    bool archive = false;
    for (std::string_view suffix : kArchiveSuffixes)
      archive = archive || ends_with(to_lower(name), suffix);
    std::string path = fs::join_path(dir, name);
    fs::FileInfo info = fs::stat_path(path);
    if (!archive || info.is_dir) continue;
    IndexFile f;
    f.filename = name;
    f.url = path_to_file_url(path);
    if (info.is_regular) f.size = info.size;
    f.origin = dir;
    files.push_back(std::move(f));
  }
  return files;
}

}  // namespace lb::net
