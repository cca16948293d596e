#include "pep/specifier.hpp"

#include <algorithm>

#include "pep/parse_cursor.hpp"
#include "util/strings.hpp"

namespace lb::pep {
namespace {

using detail::py_strip;

constexpr std::string_view kOperators[] = {"===", "==", "~=", "!=", "<=", ">=", "<", ">"};
constexpr const char* kHint =
    "a specifier is an operator (==, !=, <=, >=, <, >, ~=, ===) and a PEP 440 version, "
    "e.g. >=1.0,<2 or ==1.2.*";

Error bad(std::string_view text, const std::string& why) {
  return make_error("invalid version specifier " + quoted(py_strip(text)) + ": " + why, kHint);
}

bool has_space(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i)
    if (detail::py_space_at(s.substr(i))) return true;
  return false;
}

bool has_suffix_segments(const Version& v) {
  return v.pre_kind() != Version::Pre::kNone || v.is_postrelease() || v.is_devrelease() ||
         v.has_local();
}

/// "==1.2.*": epochs equal and `v`'s release, zero-padded, starts with the prefix release.
bool prefix_match(const Version& v, int epoch, const std::vector<long long>& prefix, size_t len) {
  if (v.epoch() != epoch) return false;
  const auto& r = v.release();
  for (size_t k = 0; k < len; ++k)
    if ((k < r.size() ? r[k] : 0) != prefix[k]) return false;
  return true;
}

std::string join_release(const std::vector<long long>& r, size_t n) {
  std::string out;
  for (size_t k = 0; k < n; ++k) out += (k ? "." : "") + std::to_string(r[k]);
  return out;
}

/// packaging's _canonical_spec (trailing release zeros dropped except for ~=): used to drop
/// duplicate clauses. "===" compares text, so it stays as written.
std::string canonical(const Specifier& s) {
  if (s.wildcard || !s.ready || s.op == "===") return s.op + s.version;
  const auto& r = s.parsed.release();
  size_t n = r.size();
  if (s.op != "~=")
    while (n > 1 && r[n - 1] == 0) --n;
  std::string full = s.parsed.to_string();
  size_t epoch_len = s.parsed.epoch() ? full.find('!') + 1 : 0;
  size_t rest = epoch_len + join_release(r, r.size()).size();
  return s.op + full.substr(0, epoch_len) + join_release(r, n) + full.substr(rest);
}

/// PEP 440 "Exclusive ordered comparison", `<V`: a pre-release of V itself is excluded unless
/// V is a pre-release. A pre-release of V sorts below V only because of its pre/dev segment:
/// same epoch and release and, when V is a post-release, the same post number ("<1.0"
/// excludes 1.0a1 and 1.0.dev0; "<1.0.post2" excludes 1.0.post2.dev0 but not 1.0a1 or
/// 1.0.post1.dev0). `v < V` is already known.
bool excluded_below(const Version& v, const Version& s) {
  if (s.is_prerelease() || !v.is_prerelease() || !Version::same_base(v, s)) return false;
  if (!s.is_postrelease()) return true;
  return v.pre_kind() == Version::Pre::kNone && v.post() == s.post();
}

/// `>V`: a post-release of V itself is excluded unless V is a post-release, and so is a local
/// version of V. A post-release of V has V's epoch, release and pre-release segment plus a
/// post number (">1.0" excludes 1.0.post1 and 1.0.post1.dev0; ">1.0a1" excludes 1.0a1.post1
/// but not 1.0.post0). A dev-release has no post-releases of its own (">1.0.dev1" admits
/// 1.0.post0). Local versions of other versions are admitted (">1.0a1" admits 1.0a2+x).
/// `v > V` is already known; V has no local label (the parser refuses one with >).
bool excluded_above(const Version& v, const Version& s) {
  if (v.has_local() && Version::compare_public(v, s) == 0) return true;
  if (s.is_postrelease() || s.is_devrelease() || !v.is_postrelease()) return false;
  return Version::same_base(v, s) && v.pre_kind() == s.pre_kind() &&
         (s.pre_kind() == Version::Pre::kNone || v.pre_number() == s.pre_number());
}

}  // namespace

Result<Specifier> Specifier::parse(std::string_view text) {
  std::string_view s = py_strip(text);
  Specifier spec;
  for (std::string_view op : kOperators) {
    if (starts_with(s, op)) {
      spec.op = std::string(op);
      break;
    }
  }
  if (spec.op.empty()) return bad(text, "expected an operator before the version");
  std::string_view rest = py_strip(s.substr(spec.op.size()));
  spec.version = std::string(rest);
  spec.ready = true;
  if (spec.op == "===") {
    if (rest.find_first_of(";)") != std::string_view::npos || has_space(rest))
      return bad(text, "=== takes one word without spaces, ';' or ')'");
    if (auto v = Version::parse(rest)) spec.parsed = std::move(*v);
    return spec;
  }
  if (rest.empty()) return bad(text, "expected a version after " + quoted(spec.op));
  if (ends_with(rest, ".*")) {
    if (spec.op != "==" && spec.op != "!=") return bad(text, "'.*' is only allowed with == and !=");
    rest.remove_suffix(2);
    spec.wildcard = true;
    if (rest.empty() || detail::py_space_before_end(rest))
      return bad(text, "'.*' must directly follow a release number, e.g. ==1.2.*");
  }
  auto v = Version::parse(rest);
  if (!v) return bad(text, quoted(rest) + " is not a PEP 440 version");
  spec.parsed = std::move(*v);
  if (spec.wildcard && has_suffix_segments(spec.parsed))
    return bad(text, "'.*' must follow a plain release number, e.g. ==1.2.*");
  if (spec.parsed.has_local() && spec.op != "==" && spec.op != "!=")
    return bad(text, "a local version label (+...) is only allowed with == and !=");
  if (spec.op == "~=" && spec.parsed.release().size() < 2)
    return bad(text, "~= needs at least two release numbers, e.g. ~=1.4 (not ~=1)");
  return spec;
}

bool Specifier::contains(const Version& v) const {
  if (!ready) {
    auto self = parse(op + version);
    return self.ok() && self->contains(v);
  }
  const Version& s = parsed;
  if (op == "==" || op == "!=") {
    bool eq;
    if (wildcard)
      eq = prefix_match(v, s.epoch(), s.release(), s.release().size());
    else if (s.has_local())
      eq = v == s;
    else
      eq = Version::compare_public(v, s) == 0;
    return (op == "==") == eq;
  }
  if (op == "<=") return Version::compare_public(v, s) <= 0;
  if (op == ">=") return Version::compare_public(v, s) >= 0;
  if (op == "<") return v < s && !excluded_below(v, s);
  if (op == ">") return v > s && !excluded_above(v, s);
  if (op == "~=")
    return Version::compare_public(v, s) >= 0 &&
           prefix_match(v, s.epoch(), s.release(), s.release().size() - 1);
  if (op == "===") return to_lower(v.to_string()) == to_lower(version);
  return false;
}

bool Specifier::mentions_prerelease() const {
  if (op != "==" && op != ">=" && op != "<=" && op != "~=" && op != "===") return false;
  if (ready) return !wildcard && parsed.is_prerelease();
  auto self = parse(op + version);
  return self.ok() && self->mentions_prerelease();
}

Result<SpecifierSet> SpecifierSet::parse(std::string_view text) {
  SpecifierSet set;
  for (const std::string& part : split(text, ',')) {
    if (py_strip(part).empty()) continue;
    auto spec = Specifier::parse(part);
    if (!spec) {
      Error e = spec.error();
      if (py_strip(part) != py_strip(text)) e.message += " in " + quoted(py_strip(text));
      return e;
    }
    set.add(std::move(*spec));
  }
  return set;
}

void SpecifierSet::add(Specifier spec) {
  std::string key = canonical(spec);
  for (const Specifier& s : specs_)
    if (canonical(s) == key) return;
  specs_.push_back(std::move(spec));
}

bool SpecifierSet::mentions_prerelease() const {
  return std::any_of(specs_.begin(), specs_.end(),
                     [](const Specifier& s) { return s.mentions_prerelease(); });
}

bool SpecifierSet::contains(const Version& v, std::optional<bool> prereleases) const {
  bool allow = prereleases.value_or(mentions_prerelease());
  if (!allow && v.is_prerelease()) return false;
  return std::all_of(specs_.begin(), specs_.end(),
                     [&](const Specifier& s) { return s.contains(v); });
}

std::vector<Version> SpecifierSet::filter(const std::vector<Version>& candidates,
                                          std::optional<bool> prereleases) const {
  bool allow = prereleases.value_or(mentions_prerelease());
  std::vector<Version> finals, pres;
  for (const Version& v : candidates) {
    if (!contains(v, true)) continue;
    if (allow || !v.is_prerelease())
      finals.push_back(v);
    else if (!prereleases.has_value())
      pres.push_back(v);
  }
  return finals.empty() ? pres : finals;
}

std::string SpecifierSet::to_string() const {
  std::vector<std::string> parts;
  for (const Specifier& s : specs_) parts.push_back(s.to_string());
  std::sort(parts.begin(), parts.end());
  return join(parts, ",");
}

}  // namespace lb::pep
