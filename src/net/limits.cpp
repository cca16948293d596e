// Limits on what a server can make lavabuild do (documented in docs/LIMITS.md).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <string>

#include "net/http.hpp"
#include "util/strings.hpp"

namespace lb::net {

std::optional<uint64_t> parse_size(std::string_view text) {
  std::string s = to_lower(trim(text));
  size_t end = 0;
  while (end < s.size() && (std::isdigit(static_cast<unsigned char>(s[end])) || s[end] == '.'))
    ++end;
  if (end == 0) return std::nullopt;
  char* stop = nullptr;
  std::string number = s.substr(0, end);
  double value = std::strtod(number.c_str(), &stop);
  if (stop != number.c_str() + number.size() || !std::isfinite(value) || value < 0)
    return std::nullopt;
  std::string unit(trim(std::string_view(s).substr(end)));
  double scale = 1;
  if (unit.empty() || unit == "b") {
    scale = 1;
  } else if (unit == "k" || unit == "kb" || unit == "kib") {
    scale = 1024.0;
  } else if (unit == "m" || unit == "mb" || unit == "mib") {
    scale = 1024.0 * 1024;
  } else if (unit == "g" || unit == "gb" || unit == "gib") {
    scale = 1024.0 * 1024 * 1024;
  } else if (unit == "t" || unit == "tb" || unit == "tib") {
    scale = 1024.0 * 1024 * 1024 * 1024;
  } else {
    return std::nullopt;
  }
  double bytes = value * scale;
  if (bytes >= 1.8e19) return std::nullopt;
  return uint64_t(bytes);
}

namespace {

Status size_from_env(const char* name, uint64_t& out) {
  const char* v = std::getenv(name);
  if (!v || !*v) return {};
  auto size = parse_size(v);
  if (!size || *size == 0)
    return make_error(std::string(name) + "=" + v + " is not a size",
                      "give a positive size such as 64M or 2G");
  out = *size;
  return {};
}

Status seconds_from_env(const char* name, long& out, bool zero_ok) {
  const char* v = std::getenv(name);
  if (!v || !*v) return {};
  char* end = nullptr;
  double d = std::strtod(v, &end);
  if (end == v || *end || !std::isfinite(d) || d < 0 || (!zero_ok && d <= 0) || d > 1e7)
    return make_error(
        std::string(name) + "=" + v + " is not a number of seconds",
        zero_ok ? "give a number of seconds (0: no limit)" : "give a positive number of seconds");
  out = std::max(zero_ok && d == 0 ? 0L : 1L, long(std::lround(d)));
  return {};
}

}  // namespace

Result<Limits> Limits::from_env() {
  Limits l;
  LB_TRY(size_from_env("LAVABUILD_MAX_PAGE_SIZE", l.max_page_bytes));
  LB_TRY(size_from_env("LAVABUILD_MAX_DOWNLOAD_SIZE", l.max_download_bytes));
  LB_TRY(size_from_env("LAVABUILD_MAX_PAGE_FILES", l.max_page_files));
  LB_TRY(seconds_from_env("LAVABUILD_HTTP_TIMEOUT", l.timeout_s, false));
  LB_TRY(seconds_from_env("LAVABUILD_HTTP_DEADLINE", l.deadline_s, true));
  if (const char* v = std::getenv("LAVABUILD_HTTP_LOW_SPEED"); v && *v) {
    auto bps = parse_size(v);
    if (!bps || *bps > 1000000000)
      return make_error(std::string("LAVABUILD_HTTP_LOW_SPEED=") + v + " is not a speed",
                        "give bytes per second, such as 1024 or 10K (0: no low-speed limit)");
    l.low_speed_bps = long(*bps);
  }
  if (const char* v = std::getenv("LAVABUILD_HTTP_RETRIES"); v && *v) {
    char* end = nullptr;
    long n = std::strtol(v, &end, 10);
    if (end == v || *end || n < 0 || n > 10)
      return make_error(std::string("LAVABUILD_HTTP_RETRIES=") + v + " is not a retry count",
                        "give a whole number from 0 (no retries) to 10");
    l.retries = int(n);
  }
  return l;
}

ClientOptions Limits::client_options() const {
  ClientOptions o;
  o.connect_timeout_s = timeout_s;
  o.low_speed_timeout_s = timeout_s;
  o.low_speed_bps = low_speed_bps;
  o.deadline_s = deadline_s;
  o.retries = retries;
  return o;
}

}  // namespace lb::net
