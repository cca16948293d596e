#include "store/journal.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>

#include "util/fs.hpp"
#include "util/strings.hpp"

namespace lb::store::detail {

namespace {
constexpr std::string_view kMagic = "lavabuild-journal 1\n";
constexpr std::string_view kExt = ".jnl";
}  // namespace

std::string encode_journal(const std::vector<JournalRecord>& records) {
  std::string out(kMagic);
  for (const auto& r : records) {
    out += r.value ? "put " : "del ";
    out += std::to_string(r.key.size()) + " " + std::to_string(r.value ? r.value->size() : 0);
    out += "\n" + r.key;
    if (r.value) out += *r.value;
    out += "\n";
  }
  return out;
}

Result<std::vector<JournalRecord>> decode_journal(std::string_view text, const std::string& where) {
  auto bad = [&](size_t pos, const std::string& what) {
    return make_error(where + ": corrupt journal at byte " + std::to_string(pos) + ": " + what,
                      "delete the file; the cache only loses the entries it held");
  };
  if (!starts_with(text, kMagic)) return bad(0, "missing header \"lavabuild-journal 1\"");
  std::vector<JournalRecord> out;
  size_t pos = kMagic.size();
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) return bad(pos, "truncated record header");
    auto fields = split_ws(text.substr(pos, eol - pos));
    if (fields.size() != 3 || (fields[0] != "put" && fields[0] != "del"))
      return bad(pos, "bad record header");
    size_t klen = 0, vlen = 0;
    if (std::sscanf(fields[1].c_str(), "%zu", &klen) != 1 ||
        std::sscanf(fields[2].c_str(), "%zu", &vlen) != 1)
      return bad(pos, "bad record lengths");
    pos = eol + 1;
    if (text.size() - pos < klen + vlen + 1 || text[pos + klen + vlen] != '\n')
      return bad(pos, "truncated record");
    JournalRecord r{std::string(text.substr(pos, klen)), std::nullopt};
    if (fields[0] == "put") r.value = std::string(text.substr(pos + klen, vlen));
    out.push_back(std::move(r));
    pos += klen + vlen + 1;
  }
  return out;
}

Status append_journal(const std::string& journal_dir, const std::vector<JournalRecord>& records) {
  static std::atomic<unsigned> counter{0};
  LB_TRY(fs::create_dirs(journal_dir));
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  char name[96];
  std::snprintf(name, sizeof name, "%020lld-%d-%u", static_cast<long long>(ns),
                static_cast<int>(::getpid()), counter++);
  return fs::write_file_atomic(fs::join_path(journal_dir, std::string(name) + std::string(kExt)),
                               encode_journal(records));
}

std::vector<std::string> list_journal(const std::string& journal_dir) {
  std::vector<std::string> out;
  auto names = fs::list_dir(journal_dir);
  if (!names) return out;
  for (const auto& n : *names)  // sorted, and names start with the time: oldest first
    if (ends_with(n, kExt)) out.push_back(fs::join_path(journal_dir, n));
  return out;
}

}  // namespace lb::store::detail
