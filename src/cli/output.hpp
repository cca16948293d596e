// What the user sees: a progress bar on a terminal, plain lines otherwise, -v explanations.
// Human output goes to stderr; stdout is reserved for --json and plan output.
#pragma once

#include <mutex>
#include <string>

#include "engine/output.hpp"

namespace lb::cli {

class Reporter : public engine::Output {
 public:
  Reporter(bool json, int verbose);
  /// A step started/finished ("fetch", "requests 2.31.0").
  void step_started(const std::string& kind, const std::string& what) override;
  void step_finished(const std::string& kind, const std::string& what) override;
  void set_total(size_t total) override;
  /// Why a step runs (printed with -v only).
  void explain(const std::string& line) override;
  /// Printed always (stderr), once per distinct text.
  void warn(const std::string& line) override;
  void info(const std::string& line) override;
  /// Clear the progress line before the final summary.
  void finish() override;
  bool verbose() const override { return verbose_ > 0; }

 private:
  void draw_locked();
  std::mutex mutex_;
  bool json_;
  int verbose_;
  bool tty_;
  size_t total_ = 0, done_ = 0;
  std::string current_;
  bool drawn_ = false;
  std::string warned_;
};

}  // namespace lb::cli
