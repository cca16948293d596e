#include "cli/output.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace lb::cli {

Reporter::Reporter(bool json, int verbose)
    : json_(json), verbose_(verbose), tty_(::isatty(2) && !std::getenv("LAVABUILD_NO_PROGRESS")) {}

void Reporter::set_total(size_t total) {
  std::lock_guard lock(mutex_);
  total_ = total;
}

void Reporter::draw_locked() {
  if (!tty_) return;
  int width = 30;
  int filled = total_ ? int(width * done_ / total_) : 0;
  std::string bar(size_t(filled), '#');
  bar.resize(size_t(width), '.');
  std::string line =
      "[" + bar + "] " + std::to_string(done_) + "/" + std::to_string(total_) + " " + current_;
  if (line.size() > 79) line.resize(79);
  std::fprintf(stderr, "\r\033[K%s", line.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void Reporter::step_started(const std::string& kind, const std::string& what) {
  std::lock_guard lock(mutex_);
  current_ = kind + " " + what;
  if (tty_) draw_locked();
}

void Reporter::step_finished(const std::string& kind, const std::string& what) {
  std::lock_guard lock(mutex_);
  ++done_;
  if (tty_) {
    draw_locked();
  } else if (!json_ || verbose_) {
    std::fprintf(stderr, "%s %s\n", kind.c_str(), what.c_str());
  }
}

void Reporter::explain(const std::string& line) {
  if (!verbose_) return;
  std::lock_guard lock(mutex_);
  if (drawn_) std::fprintf(stderr, "\r\033[K");
  std::fprintf(stderr, "  why: %s\n", line.c_str());
  if (drawn_) draw_locked();
}

void Reporter::warn(const std::string& line) {
  std::lock_guard lock(mutex_);
  if (warned_.find("\n" + line + "\n") != std::string::npos) return;
  warned_ += "\n" + line + "\n";
  if (drawn_) std::fprintf(stderr, "\r\033[K");
  std::fprintf(stderr, "warning: %s\n", line.c_str());
  if (drawn_) draw_locked();
}

void Reporter::info(const std::string& line) {
  std::lock_guard lock(mutex_);
  if (drawn_) std::fprintf(stderr, "\r\033[K");
  std::fprintf(stderr, "%s\n", line.c_str());
  if (drawn_) draw_locked();
}

void Reporter::finish() {
  std::lock_guard lock(mutex_);
  if (drawn_) std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace lb::cli
