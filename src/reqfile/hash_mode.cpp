// Hash-checking mode validation, as pip's --require-hashes.
#include <filesystem>
#include <map>

#include "pep/name.hpp"
#include "reqfile/reqfile.hpp"
#include "util/strings.hpp"

namespace lb::reqfile {
namespace {

/// pip's is_pinned: exactly one specifier, === or == without a wildcard.
bool is_pinned(const pep::Requirement& req) {
  const auto& specs = req.specifier.specifiers();
  if (specs.size() != 1) return false;
  return specs[0].op == "===" || (specs[0].op == "==" && !ends_with(specs[0].version, ".*"));
}

bool is_directory_link(const Entry& e) {
  std::error_code ec;
  if (e.kind == EntryKind::path) return std::filesystem::is_directory(e.link, ec);
  if (starts_with(e.link, "file://")) {
    std::string path = e.link.substr(7, e.link.find_first_of("#?") - 7);
    return std::filesystem::is_directory(percent_decode(path), ec);
  }
  return false;
}

struct ConstraintInfo {
  bool pinned = false;
  bool hashed = false;
};

/// Why `e` cannot be installed in hash-checking mode, or "" when it can.
std::string problem(const Entry& e, const std::map<std::string, ConstraintInfo>& constraints) {
  switch (e.kind) {
    case EntryKind::editable:
      return "editable requirements cannot be hash-checked";
    case EntryKind::vcs:
      return "VCS requirements cannot be hash-checked (no single file to hash)";
    case EntryKind::url:
    case EntryKind::path:
      if (is_directory_link(e)) return "directories cannot be hash-checked";
      return e.hashes.empty() ? "no --hash" : "";
    case EntryKind::named:
      break;
  }
  ConstraintInfo c;
  if (auto it = constraints.find(e.req.normalized_name()); it != constraints.end()) c = it->second;
  bool pinned = is_pinned(e.req) || c.pinned;
  bool hashed = !e.hashes.empty() || c.hashed;
  if (!pinned && !hashed) return "not pinned with == or ===, and no --hash";
  if (!pinned) return "not pinned with == or ===";
  if (!hashed) return "no --hash";
  return "";
}

}  // namespace

Status check_hash_mode(const Parsed& parsed) {
  if (!parsed.hash_checking()) return {};
  std::map<std::string, ConstraintInfo> constraints;
  for (const Entry& c : parsed.constraints) {
    ConstraintInfo& info = constraints[c.req.normalized_name()];
    info.pinned = info.pinned || is_pinned(c.req);
    info.hashed = info.hashed || !c.hashes.empty();
  }
  std::string list;
  for (const Entry& e : parsed.requirements) {
    std::string why = problem(e, constraints);
    if (!why.empty()) list += "\n  " + e.loc.to_string() + ": " + e.text + " (" + why + ")";
  }
  if (list.empty()) return {};
  std::string cause =
      parsed.options.require_hashes ? "--require-hashes is set" : "some requirements have --hash";
  return make_error("hash-checking mode (" + cause +
                        ") needs every requirement pinned with == and given its hashes; these "
                        "are not:" +
                        list,
                    "pin each requirement (name==1.2.3) and add --hash=sha256:<hex> for every "
                    "file it may install (pip-compile --generate-hashes writes them)");
}

}  // namespace lb::reqfile
