// A subset of one package's known versions, as a bitset. Index i is the i-th known version in
// ascending order; the last index is the "phantom": every version that is not on the index.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace lb::resolve {

/// Fixed-universe bitset; sets of the same package always have the same universe size.
class VersionSet {
 public:
  VersionSet() = default;
  /// The empty set over a universe of `n` elements.
  explicit VersionSet(size_t n) : n_(n), w_((n + 63) / 64, 0) {}

  size_t universe() const { return n_; }
  bool test(size_t i) const { return (w_[i / 64] >> (i % 64)) & 1U; }
  void set(size_t i) { w_[i / 64] |= uint64_t{1} << (i % 64); }
  void reset(size_t i) { w_[i / 64] &= ~(uint64_t{1} << (i % 64)); }

  bool empty() const {
    for (uint64_t w : w_)
      if (w) return false;
    return true;
  }
  size_t count() const {
    size_t c = 0;
    for (uint64_t w : w_) c += static_cast<size_t>(std::popcount(w));
    return c;
  }
  /// this ⊆ other.
  bool subset_of(const VersionSet& o) const {
    for (size_t i = 0; i < w_.size(); ++i)
      if (w_[i] & ~o.w_[i]) return false;
    return true;
  }
  bool intersects(const VersionSet& o) const {
    for (size_t i = 0; i < w_.size(); ++i)
      if (w_[i] & o.w_[i]) return true;
    return false;
  }
  VersionSet operator&(const VersionSet& o) const {
    return combine(o, [](auto a, auto b) { return a & b; });
  }
  VersionSet operator|(const VersionSet& o) const {
    return combine(o, [](auto a, auto b) { return a | b; });
  }
  /// this \ other.
  VersionSet minus(const VersionSet& o) const {
    return combine(o, [](auto a, auto b) { return a & ~b; });
  }
  friend bool operator==(const VersionSet&, const VersionSet&) = default;

 private:
  template <class F>
  VersionSet combine(const VersionSet& o, F f) const {
    VersionSet r(n_);
    for (size_t i = 0; i < w_.size(); ++i) r.w_[i] = f(w_[i], o.w_[i]);
    return r;
  }
  size_t n_ = 0;
  std::vector<uint64_t> w_;
};

}  // namespace lb::resolve
