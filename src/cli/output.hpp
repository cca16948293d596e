// What the user sees on stderr; stdout is reserved for --json, plan and `lock -o -` output.
//
// On a terminal (stderr a tty, TERM not `dumb`, LAVABUILD_NO_PROGRESS unset): one status line
// redrawn in place at most 10 times a second: what resolution fetches, then the downloads in
// flight (bytes, rate, time left), then the step bar; colour unless NO_COLOR is set to a
// non-empty value (https://no-color.org). Otherwise plain lines without escape codes: one
// when resolution starts, one per finished download ("fetched x.whl (128 kB)"), one per
// finished step. -q: warnings and errors only. -v: why each step runs.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "engine/output.hpp"
#include "util/result.hpp"

namespace lb::cli {

/// How stderr is written to.
struct Style {
  bool live = false;   ///< a status line redrawn in place (cursor movement allowed)
  bool color = false;  ///< ANSI colours
  /// From the environment: live on a tty whose TERM is not `dumb` (and LAVABUILD_NO_PROGRESS
  /// unset); colour when live and NO_COLOR is unset or empty.
  static Style detect();
};

/// "512 B", "128 kB", "12.4 MB" (decimal units, as uv and pip show them).
std::string human_bytes(uint64_t bytes);

/// "error: MESSAGE" and "  hint: HINT" on stderr ("error:" red with colour).
void print_error(const Error& e, const Style& style);

enum class Verbosity { quiet, normal, verbose };

class Reporter : public engine::Output {
 public:
  Reporter(bool json, Verbosity verbosity, Style style = Style::detect());
  ~Reporter() override;
  Reporter(const Reporter&) = delete;
  Reporter& operator=(const Reporter&) = delete;

  /// A step started/finished ("fetch", "requests 2.31.0").
  void step_started(const std::string& kind, const std::string& what) override;
  void step_finished(const std::string& kind, const std::string& what) override;
  void set_total(size_t total) override;
  void resolve_started(const std::string& what) override;
  void resolving(const std::string& what) override;
  uint64_t download_started(const std::string& name, uint64_t total) override;
  void download_progress(uint64_t id, uint64_t done, uint64_t total) override;
  void download_finished(uint64_t id, uint64_t bytes, bool ok) override;
  /// Why a step runs (printed with -v only).
  void explain(const std::string& line) override;
  /// Printed always (stderr), once per distinct text.
  void warn(const std::string& line) override;
  /// Not printed with -q.
  void info(const std::string& line) override;
  /// Clear the status line for good: what follows are the run's last lines.
  void finish() override;
  bool verbose() const override { return verbosity_ == Verbosity::verbose; }

  /// The run's last line ("N packages in ...", "... is up to date"): bold green with colour.
  void summary(const std::string& line);
  /// An error and its hint; printed even with -q.
  void error(const Error& e);
  /// Printed even with -q: how a stopped run ended ("interrupted: kept ...").
  void notice(const std::string& line);
  const Style& style() const { return style_; }

 private:
  using Clock = std::chrono::steady_clock;
  struct Download {
    uint64_t id;
    std::string name;
    uint64_t done, total;
  };
  /// Plain progress lines (resolution start, fetched files, steps) are printed.
  bool lines() const { return !style_.live && verbosity_ != Verbosity::quiet && !json_; }
  /// Print `text` as a line of its own, keeping the status line below it.
  void print_locked(const std::string& text);
  /// Redraw now if the last draw is 100 ms old, else leave it to the ticker thread.
  void request_draw_locked();
  void draw_locked(Clock::time_point now);
  void clear_locked();
  std::string status_locked(Clock::time_point now) const;
  std::string downloads_locked(Clock::time_point now) const;

  const bool json_;
  const Verbosity verbosity_;
  const Style style_;
  size_t width_ = 80;
  std::mutex mutex_;
  bool closed_ = false;  ///< finish(): no status line any more
  bool drawn_ = false;   ///< the status line is on screen
  bool dirty_ = false;   ///< the status line is out of date
  Clock::time_point last_draw_{};
  size_t total_ = 0, done_ = 0;
  bool have_total_ = false;
  std::string current_;  ///< what the status line says when no download is in flight
  std::vector<Download> downloads_;
  uint64_t next_id_ = 1;
  uint64_t received_ = 0;      ///< bytes of every download since `since_`
  Clock::time_point since_{};  ///< when the downloads in flight began
  std::string warned_;
};

}  // namespace lb::cli
