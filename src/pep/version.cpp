#include "pep/version.hpp"

#include <algorithm>

#include "pep/parse_cursor.hpp"
#include "util/strings.hpp"

namespace lb::pep {

/// Hand-written equivalent of packaging's VERSION_PATTERN (case-insensitive). Each optional
/// segment either matches completely or leaves the position untouched.
class VersionParser {
 public:
  explicit VersionParser(std::string_view s) : s_(s) {}

  bool run(Version& v) {
    eat_ci("v");
    long long n = 0;
    if (!number(n)) return false;
    if (eat('!')) {
      if (n > 1'000'000'000) return false;
      v.epoch_ = static_cast<int>(n);
      if (!number(n)) return false;
    }
    v.release_.push_back(n);
    while (i_ + 1 < s_.size() && s_[i_] == '.' && is_digit(s_[i_ + 1])) {
      ++i_;
      if (!number(n)) return false;
      v.release_.push_back(n);
    }
    if (!pre(v) || !post(v) || !dev(v) || !local(v)) return false;
    return i_ == s_.size() && !overflow_;
  }

 private:
  static bool is_digit(char c) { return c >= '0' && c <= '9'; }
  static char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }
  static bool is_alnum(char c) { return is_digit(c) || (lower(c) >= 'a' && lower(c) <= 'z'); }
  static bool is_sep(char c) { return c == '-' || c == '_' || c == '.'; }

  bool eat(char c) {
    if (i_ < s_.size() && s_[i_] == c) return ++i_, true;
    return false;
  }
  bool eat_sep() {
    if (i_ < s_.size() && is_sep(s_[i_])) return ++i_, true;
    return false;
  }
  bool eat_ci(std::string_view word) {
    if (s_.size() - i_ < word.size()) return false;
    for (size_t k = 0; k < word.size(); ++k)
      if (lower(s_[i_ + k]) != word[k]) return false;
    i_ += word.size();
    return true;
  }
  /// [0-9]+ into n; sets overflow_ beyond 18 significant digits.
  bool number(long long& n) {
    size_t start = i_;
    n = 0;
    int significant = 0;
    while (i_ < s_.size() && is_digit(s_[i_])) {
      if (n != 0 || s_[i_] != '0') ++significant;
      if (significant > 18) overflow_ = true;
      n = overflow_ ? 0 : n * 10 + (s_[i_] - '0');
      ++i_;
    }
    return i_ > start;
  }
  /// [-_.]? [0-9]* -> number, defaulting to 0.
  /// The separator is taken even without digits ("1.0a-" is valid, as in packaging).
  long long optional_number() {
    eat_sep();
    long long n = 0;
    if (!number(n)) n = 0;
    return n;
  }

  bool pre(Version& v) {
    static constexpr std::pair<std::string_view, Version::Pre> kLabels[] = {
        {"alpha", Version::Pre::kAlpha}, {"a", Version::Pre::kAlpha},
        {"beta", Version::Pre::kBeta},   {"b", Version::Pre::kBeta},
        {"preview", Version::Pre::kRc},  {"pre", Version::Pre::kRc},
        {"c", Version::Pre::kRc},        {"rc", Version::Pre::kRc}};
    size_t save = i_;
    eat_sep();
    for (const auto& [word, kind] : kLabels) {
      if (eat_ci(word)) {
        v.pre_ = kind;
        v.pre_num_ = optional_number();
        return true;
      }
    }
    i_ = save;
    return true;
  }

  bool post(Version& v) {
    size_t save = i_;
    long long n = 0;
    if (eat('-') && number(n)) {
      v.post_ = n;
      return true;
    }
    i_ = save;
    eat_sep();
    if (eat_ci("post") || eat_ci("rev") || eat_ci("r")) {
      v.post_ = optional_number();
      return true;
    }
    i_ = save;
    return true;
  }

  bool dev(Version& v) {
    size_t save = i_;
    eat_sep();
    if (eat_ci("dev")) {
      v.dev_ = optional_number();
      return true;
    }
    i_ = save;
    return true;
  }

  bool local(Version& v) {
    if (!eat('+')) return true;
    while (true) {
      size_t start = i_;
      while (i_ < s_.size() && is_alnum(s_[i_])) ++i_;
      if (i_ == start) return false;
      std::string_view part = s_.substr(start, i_ - start);
      LocalPart lp;
      lp.numeric = std::all_of(part.begin(), part.end(), is_digit);
      if (lp.numeric) {
        size_t save = i_;
        i_ = start;
        number(lp.number);
        i_ = save;
      } else {
        lp.text = to_lower(part);
      }
      v.local_.push_back(std::move(lp));
      if (i_ + 1 >= s_.size() || !is_sep(s_[i_]) || !is_alnum(s_[i_ + 1])) return true;
      ++i_;
    }
  }

  std::string_view s_;
  size_t i_ = 0;
  bool overflow_ = false;
};

Result<Version> Version::parse(std::string_view text) {
  Version v;
  std::string_view stripped = detail::py_strip(text);  // as Python's str.strip()
  VersionParser parser(stripped);
  if (stripped.empty() || !parser.run(v))
    return make_error("invalid version " + quoted(text),
                      "versions look like 1.2, 2.0rc1, 1.0.post1, 1.0.dev2, 1!2.0+local (PEP 440); "
                      "numbers may have at most 18 digits");
  return v;
}

std::string Version::to_string() const {
  std::string out;
  if (epoch_ != 0) out += std::to_string(epoch_) + "!";
  for (size_t k = 0; k < release_.size(); ++k) {
    if (k) out += '.';
    out += std::to_string(release_[k]);
  }
  static constexpr const char* kPre[] = {"a", "b", "rc"};
  if (pre_ != Pre::kNone) out += kPre[static_cast<int>(pre_)] + std::to_string(pre_num_);
  if (post_ >= 0) out += ".post" + std::to_string(post_);
  if (dev_ >= 0) out += ".dev" + std::to_string(dev_);
  for (size_t k = 0; k < local_.size(); ++k) {
    out += k ? '.' : '+';
    out += local_[k].numeric ? std::to_string(local_[k].number) : local_[k].text;
  }
  return out;
}

Version Version::public_version() const {
  Version v = *this;
  v.local_.clear();
  return v;
}

Version Version::base_version() const {
  Version v;
  v.epoch_ = epoch_;
  v.release_ = release_;
  return v;
}

namespace {

std::strong_ordering compare_release(const std::vector<long long>& a,
                                     const std::vector<long long>& b) {
  size_t n = std::max(a.size(), b.size());
  for (size_t k = 0; k < n; ++k) {
    long long x = k < a.size() ? a[k] : 0;
    long long y = k < b.size() ? b[k] : 0;
    if (x != y) return x <=> y;
  }
  return std::strong_ordering::equal;
}

/// packaging's _cmpkey pre term: dev-only releases sort before any pre-release, final (and
/// post) releases after all of them.
int pre_rank(const Version& v) {
  if (v.pre_kind() != Version::Pre::kNone) return 1;
  return (v.post() < 0 && v.dev() >= 0) ? 0 : 2;
}

std::strong_ordering compare_local(const std::vector<LocalPart>& a,
                                   const std::vector<LocalPart>& b) {
  size_t n = std::min(a.size(), b.size());
  for (size_t k = 0; k < n; ++k) {
    if (a[k].numeric != b[k].numeric) return a[k].numeric <=> b[k].numeric;  // text < number
    auto c = a[k].numeric ? a[k].number <=> b[k].number : a[k].text.compare(b[k].text) <=> 0;
    if (c != 0) return c;
  }
  return a.size() <=> b.size();
}

}  // namespace

std::strong_ordering Version::compare_public(const Version& a, const Version& b) {
  if (auto c = a.epoch_ <=> b.epoch_; c != 0) return c;
  if (auto c = compare_release(a.release_, b.release_); c != 0) return c;
  int ra = pre_rank(a), rb = pre_rank(b);
  if (ra != rb) return ra <=> rb;
  if (ra == 1) {
    if (a.pre_ != b.pre_) return a.pre_ <=> b.pre_;
    if (auto c = a.pre_num_ <=> b.pre_num_; c != 0) return c;
  }
  if (auto c = a.post_ <=> b.post_; c != 0) return c;  // absent (-1) sorts first
  if ((a.dev_ < 0) != (b.dev_ < 0))
    return (a.dev_ < 0) ? std::strong_ordering::greater : std::strong_ordering::less;
  return a.dev_ <=> b.dev_;
}

bool Version::same_base(const Version& a, const Version& b) {
  return a.epoch_ == b.epoch_ && compare_release(a.release_, b.release_) == 0;
}

std::strong_ordering operator<=>(const Version& a, const Version& b) {
  if (auto c = Version::compare_public(a, b); c != 0) return c;
  return compare_local(a.local_, b.local_);
}

}  // namespace lb::pep
