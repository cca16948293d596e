// How the engine reports: progress events, explanations, warnings and informational lines.
// The command layer renders them (a progress bar on a terminal, plain lines otherwise, JSON);
// an instance upgrade or a test passes its own implementation. Every method may be called
// from several threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace lb::engine {

class Output {
 public:
  virtual ~Output() = default;
  /// A step started/finished: kind "fetch", what "requests 2.31.0".
  virtual void step_started(const std::string& kind, const std::string& what) = 0;
  virtual void step_finished(const std::string& kind, const std::string& what) = 0;
  /// How many steps will run.
  virtual void set_total(size_t total) = 0;
  /// Bytes of a download so far (total 0: unknown). Called often; cheap implementations only.
  virtual void download_progress(const std::string& /*what*/, uint64_t /*done*/,
                                 uint64_t /*total*/) {}
  /// Why a step runs (shown with -v only).
  virtual void explain(const std::string& line) = 0;
  /// Shown always, once per distinct text.
  virtual void warn(const std::string& line) = 0;
  /// A line of the run's narrative ("repairing x", "+ name 1.0").
  virtual void info(const std::string& line) = 0;
  /// The run's steps are over: clear any progress display before the summary.
  virtual void finish() = 0;
  virtual bool verbose() const = 0;
};

/// Says nothing (for callers that only want the result).
class NullOutput : public Output {
 public:
  void step_started(const std::string&, const std::string&) override {}
  void step_finished(const std::string&, const std::string&) override {}
  void set_total(size_t) override {}
  void explain(const std::string&) override {}
  void warn(const std::string&) override {}
  void info(const std::string&) override {}
  void finish() override {}
  bool verbose() const override { return false; }
};

}  // namespace lb::engine
