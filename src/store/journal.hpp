// Internal: index writes parked in <cache>/journal/ while another process holds the index.
// Format "lavabuild-journal 1" (one file per batch, written atomically, replayed and deleted
// by the next process that opens the index):
//   journal/<unix-ns, 20 digits>-<pid>-<n>.jnl
//   "lavabuild-journal 1\n", then per record: "put <klen> <vlen>\n<key><value>\n"
//                                          or "del <klen> 0\n<key>\n"
// Values are stored raw (the index encoding is applied on replay).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/result.hpp"

namespace lb::store::detail {

/// One journalled write; `value` nullopt means delete.
struct JournalRecord {
  std::string key;
  std::optional<std::string> value;
};

std::string encode_journal(const std::vector<JournalRecord>& records);
/// Strict parse; errors name `where` (the file).
Result<std::vector<JournalRecord>> decode_journal(std::string_view text, const std::string& where);

/// Write one journal file into `journal_dir` (created if needed).
Status append_journal(const std::string& journal_dir, const std::vector<JournalRecord>& records);

/// The complete journal files in `journal_dir`, oldest first (full paths).
std::vector<std::string> list_journal(const std::string& journal_dir);

}  // namespace lb::store::detail
