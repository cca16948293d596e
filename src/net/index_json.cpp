// PEP 691 JSON project pages (+ PEP 700 size, PEP 714 core-metadata), read with a SAX parser:
// memory stays proportional to the files found (a DOM of a hostile page of tiny objects costs
// tens of bytes per input byte), and nesting is capped (kMaxJsonDepth): a frame per level of a
// page of `[[[[...` cost 40 bytes per input byte (692 MiB for 10 MB).
#include <cctype>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "net/index.hpp"
#include "net/url.hpp"
#include "util/strings.hpp"

namespace lb::net {

using nlohmann::json;

namespace {

std::string sha256_or_empty(std::string hex) {
  hex = to_lower(hex);
  if (hex.size() != 64) return {};
  for (char c : hex)
    if (!std::isxdigit(static_cast<unsigned char>(c))) return {};
  return hex;
}

// One "core-metadata" / "dist-info-metadata" value.
struct MetaField {
  bool present = false, available = false;
  std::string sha256;
};

class Reader : public nlohmann::json_sax<json> {
 public:
  Reader(const std::string& base_url, size_t max_files) : base_(base_url), max_(max_files) {}

  std::vector<IndexFile> files;
  std::optional<Error> error;
  std::string api_version;
  bool saw_files_array = false;

  bool null() override { return value(Kind::other); }
  bool boolean(bool b) override {
    flag_ = b;
    return value(Kind::boolean);
  }
  bool number_integer(number_integer_t) override { return value(Kind::other); }
  bool number_unsigned(number_unsigned_t n) override {
    unsigned_ = n;
    return value(Kind::unsigned_number);
  }
  bool number_float(number_float_t, const string_t&) override { return value(Kind::other); }
  bool string(string_t& s) override {
    text_ = std::move(s);
    return value(Kind::string);
  }
  bool binary(binary_t&) override { return value(Kind::other); }
  bool start_object(std::size_t) override {
    if (!value(Kind::object) || !deeper()) return false;
    stack_.push_back({true, {}});
    return true;
  }
  bool key(string_t& k) override {
    stack_.back().key = std::move(k);
    return true;
  }
  bool end_object() override {
    stack_.pop_back();
    if (in_files_array()) return finish_file();
    return true;
  }
  bool start_array(std::size_t) override {
    if (!value(Kind::array) || !deeper()) return false;
    stack_.push_back({false, {}});
    return true;
  }
  bool end_array() override {
    stack_.pop_back();
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    if (!error) error = bad("not valid JSON");
    return false;
  }

  Error bad(const std::string& why) const {
    return make_error("invalid JSON index page " + redact_url(base_) + ": " + why,
                      "check that the index implements PEP 691");
  }

 private:
  enum class Kind { other, boolean, unsigned_number, string, object, array };
  struct Frame {
    bool object;
    std::string key;
  };

  // One more level of nesting, if the page is not already kMaxJsonDepth deep.
  bool deeper() {
    if (stack_.size() < kMaxJsonDepth) return true;
    return fail(
        bad("nested deeper than " + std::to_string(kMaxJsonDepth) + " levels (PEP 691 needs 4)"));
  }

  // stack_: [top object, files array, file object, hashes/metadata object]
  bool in_files_array() const {
    return stack_.size() == 2 && stack_[0].key == "files" && !stack_[1].object;
  }
  bool in_file() const {
    return stack_.size() == 3 && stack_[0].key == "files" && !stack_[1].object;
  }

  // A value (scalar, or the start of an object/array) at the current position.
  bool value(Kind kind) {
    if (stack_.empty()) {
      if (kind != Kind::object) return fail(bad("the top level is not an object"));
      return true;
    }
    if (stack_.size() == 1) {
      if (stack_[0].key == "files") saw_files_array = kind == Kind::array;
      return true;
    }
    if (stack_.size() == 2 && stack_[0].key == "meta" && stack_[1].object &&
        stack_[1].key == "api-version" && kind == Kind::string) {
      api_version = text_;
      return true;
    }
    if (in_files_array()) {
      if (kind != Kind::object) return fail(bad("a \"files\" entry is not an object"));
      if (max_ && files.size() >= max_) return fail(too_many_files(base_, max_));
      cur_ = IndexFile{};
      url_.clear();
      core_ = dist_ = MetaField{};
      return true;
    }
    if (in_file()) {
      const std::string& k = stack_[2].key;
      if (k == "filename" || k == "url" || k == "requires-python") {
        std::string s = kind == Kind::string ? std::move(text_) : std::string();
        (k == "filename" ? cur_.filename : k == "url" ? url_ : cur_.requires_python) = s;
      } else if (k == "hashes") {
        cur_.sha256.clear();
      } else if (k == "yanked") {
        cur_.yanked = kind == Kind::string || (kind == Kind::boolean && flag_);
        cur_.yanked_reason = kind == Kind::string ? std::move(text_) : std::string();
      } else if (k == "core-metadata" || k == "dist-info-metadata") {
        MetaField& m = k == "core-metadata" ? core_ : dist_;
        m = MetaField{true, kind == Kind::object || (kind == Kind::boolean && flag_), {}};
      } else if (k == "size") {
        cur_.size.reset();
        if (kind == Kind::unsigned_number) cur_.size = unsigned_;
      }
      return true;
    }
    if (stack_.size() == 4 && stack_[0].key == "files" && !stack_[1].object && stack_[3].object &&
        stack_[3].key == "sha256" && kind == Kind::string) {
      const std::string& k = stack_[2].key;
      if (k == "hashes") cur_.sha256 = sha256_or_empty(text_);
      if (k == "core-metadata") core_.sha256 = sha256_or_empty(text_);
      if (k == "dist-info-metadata") dist_.sha256 = sha256_or_empty(text_);
    }
    return true;
  }

  bool finish_file() {
    if (cur_.filename.empty() || url_.empty())
      return fail(bad("a file without \"filename\" or \"url\""));
    if (url_.size() > kMaxUrlLength) return true;  // skipped, as in HTML pages
    std::string url = resolve_url(base_, url_);
    cur_.url = strip_fragment(url);
    const MetaField& m = core_.present ? core_ : dist_;
    cur_.has_metadata = m.available;
    cur_.metadata_sha256 = m.sha256;
    cur_.origin = base_;
    // Strings taken from the parser's buffer may have twice the capacity they need.
    for (std::string* s : {&cur_.filename, &cur_.requires_python, &cur_.yanked_reason})
      s->shrink_to_fit();
    files.push_back(std::move(cur_));
    return true;
  }

  bool fail(Error e) {
    if (!error) error = std::move(e);
    return false;
  }

  std::string base_;
  size_t max_;
  std::vector<Frame> stack_;
  IndexFile cur_;
  std::string url_;
  MetaField core_, dist_;
  std::string text_;
  bool flag_ = false;
  uint64_t unsigned_ = 0;
};

}  // namespace

Result<std::vector<IndexFile>> parse_simple_json(std::string_view text, const std::string& base_url,
                                                 size_t max_files) {
  Reader reader(base_url, max_files);
  bool ok = json::sax_parse(text.begin(), text.end(), &reader);
  if (reader.error) return *reader.error;
  if (!ok) return reader.bad("not valid JSON");
  const std::string& version = reader.api_version;
  if (!version.empty() && !starts_with(version, "1.") && version != "1")
    return reader.bad("unsupported api-version " + version + " (lavabuild reads 1.x)");
  if (!reader.saw_files_array) return reader.bad("no \"files\" array");
  return std::move(reader.files);
}

}  // namespace lb::net
