// How the engine reports: progress events, explanations, warnings and informational lines.
// The command layer renders them (a live status line on a terminal, plain lines otherwise,
// JSON); an instance upgrade or a test passes its own implementation. Every method may be
// called from several threads at once.
//
// A run reports in this order: resolve_started, then resolving() while it fetches pages and
// metadata; set_total; step_started/step_finished per step; finish. Downloads
// (download_started/progress/finished) may happen in either phase.
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
  /// Resolution begins: what is resolved from where ("3 requirements from URL").
  virtual void resolve_started(const std::string& /*what*/) {}
  /// What resolution is fetching now ("index page of requests", "metadata of urllib3 2.2.1").
  virtual void resolving(const std::string& /*what*/) {}
  /// A download of the file `name` begins (`total` bytes, 0: unknown). Returns the id that
  /// download_progress and download_finished name it by.
  virtual uint64_t download_started(const std::string& /*name*/, uint64_t /*total*/) { return 0; }
  /// Bytes of download `id` so far (total 0: unknown). Called for every chunk received:
  /// cheap implementations only.
  virtual void download_progress(uint64_t /*id*/, uint64_t /*done*/, uint64_t /*total*/) {}
  /// Download `id` ended: `bytes` received when `ok`, else it failed (the error comes later).
  virtual void download_finished(uint64_t /*id*/, uint64_t /*bytes*/, bool /*ok*/) {}
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
