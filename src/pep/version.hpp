// PEP 440 versions: parsing (all accepted spellings), normalised printing and ordering exactly
// as packaging.version.Version: dev < pre < release < post; local versions sort after their
// public version; trailing zeros of the release segment do not matter ("1.0" == "1.0.0").
#pragma once

#include <compare>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"

namespace lb::pep {

/// One dot-separated part of a local version label ("ubuntu", "1").
struct LocalPart {
  bool numeric = false;
  long long number = 0;  ///< valid when numeric
  std::string text;      ///< lower-case, valid when !numeric
};

/// A parsed PEP 440 version. Comparison never allocates.
class Version {
 public:
  /// Pre-release kinds in their sort order.
  enum class Pre : signed char { kNone = -1, kAlpha = 0, kBeta = 1, kRc = 2 };

  /// Parses any PEP 440 spelling ("v1.0-RC.1", "1.0-1", "1!2.0.post3.dev4+abc.5");
  /// surrounding whitespace is ignored.
  static Result<Version> parse(std::string_view text);

  /// Normalised form ("1.0rc1", "1.0.post1", "1!2.0+abc.5").
  std::string to_string() const;

  /// True if the version has a pre-release or a dev-release segment.
  bool is_prerelease() const { return pre_ != Pre::kNone || dev_ >= 0; }
  bool is_postrelease() const { return post_ >= 0; }
  bool is_devrelease() const { return dev_ >= 0; }
  bool has_local() const { return !local_.empty(); }
  /// The same version without its local label.
  Version public_version() const;
  /// Epoch and release only ("1!2.0rc1.post2+x" -> "1!2.0").
  Version base_version() const;

  int epoch() const { return epoch_; }
  const std::vector<long long>& release() const { return release_; }
  Pre pre_kind() const { return pre_; }
  long long pre_number() const { return pre_num_; }
  long long post() const { return post_; }  ///< -1 when absent
  long long dev() const { return dev_; }    ///< -1 when absent
  const std::vector<LocalPart>& local() const { return local_; }

  /// Orders the versions ignoring both local labels.
  static std::strong_ordering compare_public(const Version& a, const Version& b);
  /// True if epoch and release are equal (trailing zeros ignored).
  static bool same_base(const Version& a, const Version& b);

  friend std::strong_ordering operator<=>(const Version& a, const Version& b);
  friend bool operator==(const Version& a, const Version& b) { return (a <=> b) == 0; }

 private:
  friend class VersionParser;
  int epoch_ = 0;
  std::vector<long long> release_;
  Pre pre_ = Pre::kNone;
  long long pre_num_ = 0;
  long long post_ = -1;
  long long dev_ = -1;
  std::vector<LocalPart> local_;
};

}  // namespace lb::pep
