#include "cli/output.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace lb::cli {

namespace {

constexpr auto kRedrawEvery = std::chrono::milliseconds(100);
constexpr const char* kReset = "\033[0m";
constexpr const char* kBoldGreen = "\033[1;32m";
constexpr const char* kGreen = "\033[32m";
constexpr const char* kYellow = "\033[1;33m";
constexpr const char* kRed = "\033[1;31m";

std::string paint(const std::string& text, const char* code, bool color) {
  return color && !text.empty() ? code + text + kReset : text;
}

/// "4s", "1m20s", "2h05m".
std::string human_seconds(double s) {
  auto n = uint64_t(s + 0.5);
  char buf[32];
  if (n < 60)
    std::snprintf(buf, sizeof buf, "%llus", (unsigned long long)n);
  else if (n < 3600)
    std::snprintf(buf, sizeof buf, "%llum%02llus", (unsigned long long)(n / 60),
                  (unsigned long long)(n % 60));
  else
    std::snprintf(buf, sizeof buf, "%lluh%02llum", (unsigned long long)(n / 3600),
                  (unsigned long long)(n / 60 % 60));
  return buf;
}

/// `done` in the unit of `total`: "12.4/40.1 MB".
std::string bytes_of(uint64_t done, uint64_t total) {
  const char* unit = "B";
  double scale = 1;
  if (total >= 1000000000)
    unit = "GB", scale = 1e9;
  else if (total >= 1000000)
    unit = "MB", scale = 1e6;
  else if (total >= 1000)
    unit = "kB", scale = 1e3;
  char buf[64];
  if (scale == 1)
    std::snprintf(buf, sizeof buf, "%llu/%llu B", (unsigned long long)done,
                  (unsigned long long)total);
  else if (double(total) / scale >= 100)  // "262/264 kB": the tenths say nothing there
    std::snprintf(buf, sizeof buf, "%.0f/%.0f %s", double(done) / scale, double(total) / scale,
                  unit);
  else
    std::snprintf(buf, sizeof buf, "%.1f/%.1f %s", double(done) / scale, double(total) / scale,
                  unit);
  return buf;
}

}  // namespace

Style Style::detect() {
  Style s;
  const char* term = std::getenv("TERM");
  s.live = ::isatty(2) && !(term && std::strcmp(term, "dumb") == 0) &&
           !std::getenv("LAVABUILD_NO_PROGRESS");
  const char* no_color = std::getenv("NO_COLOR");
  s.color = s.live && !(no_color && *no_color);
  return s;
}

std::string human_bytes(uint64_t bytes) {
  char buf[32];
  if (bytes < 1000) {
    std::snprintf(buf, sizeof buf, "%llu B", (unsigned long long)bytes);
    return buf;
  }
  double v = double(bytes) / 1e3;
  const char* unit = "kB";
  if (bytes >= 1000000000)
    v = double(bytes) / 1e9, unit = "GB";
  else if (bytes >= 1000000)
    v = double(bytes) / 1e6, unit = "MB";
  std::snprintf(buf, sizeof buf, v < 100 ? "%.1f %s" : "%.0f %s", v, unit);
  return buf;
}

void print_error(const Error& e, const Style& style) {
  std::fprintf(stderr, "%s %s\n", paint("error:", kRed, style.color).c_str(), e.message.c_str());
  if (!e.hint.empty()) std::fprintf(stderr, "  hint: %s\n", e.hint.c_str());
}

Reporter::Reporter(bool json, Verbosity verbosity, Style style)
    : json_(json),
      verbosity_(verbosity),
      style_{style.live && verbosity != Verbosity::quiet, style.color} {
  if (!style_.live) return;
  winsize ws{};
  if (::ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) width_ = ws.ws_col;
}

Reporter::~Reporter() {
  std::lock_guard lock(mutex_);
  clear_locked();
  std::fflush(stderr);
}

void Reporter::clear_locked() {
  if (!drawn_) return;
  std::fputs("\r\033[K", stderr);
  drawn_ = false;
}

void Reporter::print_locked(const std::string& text) {
  bool was = drawn_;
  clear_locked();
  std::fprintf(stderr, "%s\n", text.c_str());
  if (was) draw_locked(Clock::now());
  std::fflush(stderr);
}

void Reporter::request_draw_locked() {
  if (!style_.live || closed_) return;
  auto now = Clock::now();
  // Held back: the next event draws it (downloads report at least twice a second, even
  // while stalled, so the rate and time left keep moving; no timer thread of our own).
  if (now - last_draw_ >= kRedrawEvery) return draw_locked(now);
  dirty_ = true;
}

std::string Reporter::downloads_locked(Clock::time_point now) const {
  size_t files = 0;
  uint64_t done = 0, total = 0;
  bool sized = true;
  for (const auto& d : downloads_) {
    if (d.total && d.done >= d.total) continue;  // complete, not yet reported
    ++files;
    done += d.done;
    total += d.total;
    sized = sized && d.total > 0;
  }
  if (files == 0) return "";
  std::string s = "downloading " + std::to_string(files) + (files == 1 ? " file: " : " files: ");
  s += sized ? bytes_of(done, total) : human_bytes(done);
  double elapsed = std::chrono::duration<double>(now - since_).count();
  if (elapsed >= 0.2 && received_ > 0) {
    double rate = double(received_) / elapsed;
    s += ", " + human_bytes(uint64_t(rate)) + "/s";
    if (sized) s += ", " + human_seconds(double(total - done) / rate) + " left";
  }
  return s;
}

std::string Reporter::status_locked(Clock::time_point now) const {
  std::string what = downloads_locked(now);
  if (what.empty()) what = current_;
  if (!have_total_) return what;
  const size_t bar_width = 16;
  size_t filled = total_ ? std::min(bar_width, bar_width * done_ / total_) : 0;
  std::string bar =
      paint(std::string(filled, '#'), kGreen, style_.color) + std::string(bar_width - filled, '.');
  std::string counts = std::to_string(done_) + "/" + std::to_string(total_);
  // What is left of the width after "[bar] n/N " (escape codes take no columns).
  size_t room =
      width_ - 1 > bar_width + counts.size() + 4 ? width_ - 1 - bar_width - counts.size() - 4 : 0;
  if (what.size() > room) what.resize(room);
  return "[" + bar + "] " + counts + " " + what;
}

void Reporter::draw_locked(Clock::time_point now) {
  if (!style_.live || closed_) return;
  std::string line = status_locked(now);
  if (!have_total_ && line.size() > width_ - 1) line.resize(width_ - 1);
  std::fprintf(stderr, "\r\033[K%s", line.c_str());
  std::fflush(stderr);
  drawn_ = !line.empty();
  dirty_ = false;
  last_draw_ = now;
}

void Reporter::set_total(size_t total) {
  std::lock_guard lock(mutex_);
  total_ = total;
  have_total_ = true;
  current_.clear();
  request_draw_locked();
}

void Reporter::resolve_started(const std::string& what) {
  std::lock_guard lock(mutex_);
  if (lines()) std::fprintf(stderr, "resolving %s\n", what.c_str());
  current_ = "resolving " + what;
  request_draw_locked();
}

void Reporter::resolving(const std::string& what) {
  if (!style_.live) return;
  std::lock_guard lock(mutex_);
  if (have_total_) return;  // resolution is over (metadata read for the steps)
  current_ = "resolving: " + what;
  request_draw_locked();
}

uint64_t Reporter::download_started(const std::string& name, uint64_t total) {
  if (!style_.live && !lines()) return 0;
  std::lock_guard lock(mutex_);
  if (downloads_.empty()) {
    since_ = Clock::now();
    received_ = 0;
  }
  downloads_.push_back({next_id_, name, 0, total});
  request_draw_locked();
  return next_id_++;
}

void Reporter::download_progress(uint64_t id, uint64_t done, uint64_t total) {
  // Plain lines say only when a download is complete: nothing to do for the chunks before.
  if (!style_.live && (total == 0 || done < total)) return;
  std::lock_guard lock(mutex_);
  auto it = std::find_if(downloads_.begin(), downloads_.end(),
                         [&](const Download& d) { return d.id == id; });
  if (it == downloads_.end()) return;
  if (done > it->done) received_ += done - it->done;
  it->done = done;
  if (total) it->total = total;
  if (style_.live) return request_draw_locked();
  // All bytes are in: said now, not when the batch of parallel downloads it is in ends.
  if (lines())
    std::fprintf(stderr, "fetched %s (%s)\n", it->name.c_str(), human_bytes(done).c_str());
  downloads_.erase(it);
}

void Reporter::download_finished(uint64_t id, uint64_t bytes, bool ok) {
  if (id == 0) return;
  std::lock_guard lock(mutex_);
  auto it = std::find_if(downloads_.begin(), downloads_.end(),
                         [&](const Download& d) { return d.id == id; });
  if (it == downloads_.end()) return;  // its line was printed when its last byte came
  if (ok && lines())
    std::fprintf(stderr, "fetched %s (%s)\n", it->name.c_str(), human_bytes(bytes).c_str());
  downloads_.erase(it);
  request_draw_locked();
}

void Reporter::step_started(const std::string& kind, const std::string& what) {
  if (!style_.live) return;
  std::lock_guard lock(mutex_);
  current_ = kind + " " + what;
  request_draw_locked();
}

void Reporter::step_finished(const std::string& kind, const std::string& what) {
  std::lock_guard lock(mutex_);
  ++done_;
  if (style_.live)
    request_draw_locked();
  else if (verbosity_ == Verbosity::verbose || lines())
    std::fprintf(stderr, "%s %s\n", kind.c_str(), what.c_str());
}

void Reporter::explain(const std::string& line) {
  if (verbosity_ != Verbosity::verbose) return;
  std::lock_guard lock(mutex_);
  print_locked("  why: " + line);
}

void Reporter::warn(const std::string& line) {
  std::lock_guard lock(mutex_);
  if (warned_.find("\n" + line + "\n") != std::string::npos) return;
  warned_ += "\n" + line + "\n";
  print_locked(paint("warning:", kYellow, style_.color) + " " + line);
}

void Reporter::info(const std::string& line) {
  if (verbosity_ == Verbosity::quiet) return;
  std::lock_guard lock(mutex_);
  print_locked(line);
}

void Reporter::summary(const std::string& line) {
  if (verbosity_ == Verbosity::quiet) return;
  finish();
  std::lock_guard lock(mutex_);
  print_locked(paint(line, kBoldGreen, style_.color));
}

void Reporter::notice(const std::string& line) {
  std::lock_guard lock(mutex_);
  print_locked(line);
}

void Reporter::error(const Error& e) {
  finish();
  std::lock_guard lock(mutex_);
  print_error(e, style_);
}

void Reporter::finish() {
  std::lock_guard lock(mutex_);
  clear_locked();
  closed_ = true;
  std::fflush(stderr);
}

}  // namespace lb::cli
