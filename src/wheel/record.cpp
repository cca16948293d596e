// RECORD CSV reading and writing.
#include "wheel/record.hpp"

#include <charconv>

namespace lb::wheel {
namespace {

// Python csv.reader (excel dialect, strict=False), one row at a time.
class CsvReader {
 public:
  explicit CsvReader(std::string_view text) : s_(text) {}
  bool done() const { return pos_ >= s_.size(); }
  int line() const { return line_; }

  // Reads one row; false on a quoted field that never ends.
  bool row(std::vector<std::string>& fields) {
    fields.clear();
    std::string field;
    enum { start, plain, quoted, quote_in_quoted } st = start;
    bool any = false;
    while (pos_ < s_.size()) {
      char c = s_[pos_++];
      if (c == '\n') ++line_;
      if (st == quoted) {
        if (c == '"')
          st = quote_in_quoted;
        else
          field += c;
        continue;
      }
      if (st == quote_in_quoted && c == '"') {
        field += c;
        st = quoted;
        continue;
      }
      if (c == ',') {
        fields.push_back(std::move(field));
        field.clear();
        st = start;
        any = true;
      } else if (c == '\n' || c == '\r') {
        if (c == '\r' && pos_ < s_.size() && s_[pos_] == '\n') ++pos_, ++line_;
        if (any || st != start) fields.push_back(std::move(field));
        return true;
      } else if (st == start && c == '"') {
        st = quoted;
      } else {
        field += c;
        st = plain;
      }
    }
    if (st == quoted) return false;
    if (any || st != start) fields.push_back(std::move(field));
    return true;
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;
  int line_ = 1;
};

}  // namespace

Result<std::vector<RecordRow>> parse_record(std::string_view text) {
  std::vector<RecordRow> rows;
  CsvReader csv(text);
  std::vector<std::string> f;
  while (!csv.done()) {
    std::string where = "RECORD:" + std::to_string(csv.line());
    const char* hint = "the wheel is malformed or hostile; do not install it";
    if (!csv.row(f)) return make_error(where + ": quoted field never ends", hint);
    if (f.empty()) continue;
    if (f.size() != 3)
      return make_error(
          where + ": expected 3 fields (path,hash,size), found " + std::to_string(f.size()), hint);
    RecordRow r{std::move(f[0]), std::move(f[1]), std::nullopt};
    if (!f[2].empty()) {
      uint64_t n = 0;
      auto [end, ec] = std::from_chars(f[2].data(), f[2].data() + f[2].size(), n);
      if (ec != std::errc() || end != f[2].data() + f[2].size())
        return make_error(where + ": size \"" + f[2] + "\" is not a number", hint);
      r.size = n;
    }
    rows.push_back(std::move(r));
  }
  return rows;
}

std::string render_record_row(const RecordRow& row) {
  auto field = [](std::string_view v) {
    if (v.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(v);
    std::string q = "\"";
    for (char c : v) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
  };
  return field(row.path) + "," + field(row.hash) + "," +
         (row.size ? std::to_string(*row.size) : std::string()) + "\r\n";
}

}  // namespace lb::wheel
