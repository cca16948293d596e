// The journal of an in-place change (<env>/.lavabuild/journal, a file in a directory a
// repository may ship): the reader must survive any bytes, and what it accepts must name only
// paths below the env (engine/journal.hpp) and render back to a journal it reads alike.
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/journal.hpp"
#include "util/fs.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto j = lb::engine::parse_journal(text, "journal");
  if (!j.ok()) return 0;
  if (j->staging.empty() || j->staging.front() != '/') __builtin_trap();
  for (const auto* list : {&j->keep_dirs, &j->deletes, &j->moves})
    for (const auto& rel : *list)
      if (!lb::fs::is_safe_rel(rel)) __builtin_trap();
  auto again = lb::engine::parse_journal(lb::engine::render_journal(*j), "journal");
  if (!again.ok() || again->staging != j->staging || again->deletes != j->deletes ||
      again->moves != j->moves || again->keep_dirs != j->keep_dirs)
    __builtin_trap();
  return 0;
}
