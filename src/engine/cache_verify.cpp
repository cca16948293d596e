#include "engine/cache_verify.hpp"

#include <cstdlib>
#include <set>
#include <utility>

#include "util/fs.hpp"
#include "util/strings.hpp"
#include "wheel/wheel.hpp"

namespace lb::engine {

namespace {

// "<sha>" or "<sha>.x" from a blob path; empty when the name is not a blob name.
std::pair<std::string, bool> blob_name(const std::string& path) {
  std::string name = fs::basename(path);
  bool exec = ends_with(name, ".x");
  if (exec) name.resize(name.size() - 2);
  if (name.size() != 64) return {"", false};
  return {name, exec};
}

}  // namespace

Result<CacheProblems> check_cache(store::Store& store) {
  CacheProblems out;
  std::set<std::pair<std::string, bool>> bad;
  LB_TRY(store.verify_all([&](std::string path) {
    auto b = blob_name(path);
    if (!b.first.empty()) bad.insert(b);
    out.bad_files.push_back(std::move(path));
  }));
  auto usable = [&](const std::string& sha, bool exec, int64_t size) {
    return !bad.count({sha, exec}) && store.blob_state(sha, exec, size) == store::BlobState::intact;
  };
  std::vector<std::pair<std::string, std::string>> entries;  // copied out: scan holds the index
  LB_TRY(store.scan("", [&](std::string_view key, std::string_view value) {
    if (starts_with(key, "ac/") || starts_with(key, "dl/") || starts_with(key, "pyc/") ||
        starts_with(key, "bytecode/"))
      entries.emplace_back(std::string(key), std::string(value));
    return true;
  }));
  for (const auto& [key, value] : entries) {
    std::string why;
    if (starts_with(key, "ac/")) {
      auto uw = wheel::deserialize_unpacked(value);
      if (!uw) {
        why = "unreadable unpack output: " + uw.error().message;
      } else {
        for (const auto& m : uw->members)
          if (!usable(m.sha256, m.executable, int64_t(m.size))) {
            why = "names " + m.path + " (blob " + m.sha256.substr(0, 12) + "), missing or bad";
            break;
          }
      }
    } else if (starts_with(key, "pyc/") || starts_with(key, "bytecode/")) {
      // "<sha> <size>" / "-" (pyc/), or a header line then "<path>\t<sha>\t<size>" lines.
      for (const auto& line : split(value, '\n')) {
        auto f = split(line, line.find('\t') != std::string::npos ? '\t' : ' ');
        if (f.size() < 2 || f[f.size() - 2].size() != 64) continue;
        const std::string& sha = f[f.size() - 2];
        if (!usable(sha, false, std::atoll(f.back().c_str()))) {
          why = "names pyc blob " + sha.substr(0, 12) + ", missing or bad";
          break;
        }
      }
    } else {
      auto lines = split(value, '\n');
      if (lines.empty() || !usable(lines[0], false, -1))
        why = "names blob " + (lines.empty() ? std::string("?") : lines[0].substr(0, 12)) +
              ", missing or bad";
    }
    if (!why.empty()) {
      out.bad_entries.push_back(key);
      out.entry_detail.push_back(std::move(why));
    }
  }
  return out;
}

Status repair_cache(store::Store& store, const CacheProblems& problems) {
  for (const auto& path : problems.bad_files) {
    auto b = blob_name(path);
    if (!b.first.empty())
      store.remove_damaged_blob(b.first, b.second);
    else
      LB_TRY(fs::remove_all(path));
    if (fs::exists(path)) LB_TRY(fs::remove_all(path));
  }
  if (!problems.bad_entries.empty()) LB_TRY(store.erase_many(problems.bad_entries));
  return {};
}

}  // namespace lb::engine
