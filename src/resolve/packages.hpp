// The resolver's table of packages: real projects, virtual "name[extra]" packages and the root.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "pep/version.hpp"

namespace lb::resolve {

/// One package the solver knows, with its candidate versions.
struct PackageInfo {
  std::string name;                    ///< normalised project name; "" for the root
  std::string extra;                   ///< "" unless this is the virtual package "name[extra]"
  int base = -1;                       ///< id of the plain package (itself when extra is empty)
  std::vector<pep::Version> versions;  ///< ascending, unique
  std::vector<bool> yanked;            ///< parallel to versions

  /// Universe size of this package's version sets (versions + phantom).
  size_t universe() const { return versions.size() + 1; }
  /// Index of the phantom element: "a version that is not on the index".
  size_t phantom() const { return versions.size(); }
  bool is_root() const { return name.empty(); }
  /// "foo", "foo[bar]" (the root has no display name).
  std::string display() const { return extra.empty() ? name : name + "[" + extra + "]"; }
};

/// Packages by id; id 0 is the root.
class PackageTable {
 public:
  /// Id of (name, extra), or -1.
  int find(const std::string& name, const std::string& extra) const {
    auto it = ids_.find({name, extra});
    return it == ids_.end() ? -1 : it->second;
  }
  int add(PackageInfo info) {
    int id = static_cast<int>(list_.size());
    if (info.base < 0) info.base = id;
    ids_[{info.name, info.extra}] = id;
    list_.push_back(std::move(info));
    return id;
  }
  const PackageInfo& operator[](int id) const { return list_[static_cast<size_t>(id)]; }
  int size() const { return static_cast<int>(list_.size()); }

 private:
  std::vector<PackageInfo> list_;
  std::map<std::pair<std::string, std::string>, int> ids_;
};

}  // namespace lb::resolve
