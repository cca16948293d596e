#include "cli/interrupted.hpp"

#include "util/cancel.hpp"

namespace lb::cli {

namespace {
std::string count(size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}
}  // namespace

int report_interrupted(Reporter& out, const Kept& kept, const std::string& target) {
  out.finish();
  std::string line = "interrupted: kept " +
                     count(kept.downloaded, "downloaded wheel", "downloaded wheels") + " and " +
                     std::to_string(kept.unpacked) + " unpacked in the store";
  if (!target.empty()) line += "; " + target + " left as it was";
  out.notice(line);
  return cancel::exit_code();
}

}  // namespace lb::cli
