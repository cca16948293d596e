// net/partial: the partial-download note, written and parsed.
#include <catch2/catch.hpp>

#include <string>

#include "net/partial.hpp"

using namespace lb::net;

namespace {
const std::string kSha(64, 'a');

PartialNote sample() {
  PartialNote n;
  n.url = "https://files.example/pkg-1.0-py3-none-any.whl";
  n.etag = "\"abc123\"";
  n.sha256 = kSha;
  n.size = 4096;
  n.bytes = 1000;
  return n;
}
}  // namespace

TEST_CASE("partial note round-trips, with an ETag or Last-Modified") {
  auto text = format_partial_note(sample());
  REQUIRE(text);
  CHECK(*text ==
        "lavabuild-partial 1\nurl https://files.example/pkg-1.0-py3-none-any.whl\n"
        "etag \"abc123\"\nsha256 " +
            kSha + "\nsize 4096\nbytes 1000\n");
  auto back = parse_partial_note(*text);
  REQUIRE(back);
  CHECK(back->url == sample().url);
  CHECK(back->validator() == "\"abc123\"");
  CHECK(back->size == std::optional<uint64_t>(4096));
  CHECK(back->bytes == 1000);

  PartialNote lm = sample();
  lm.etag.clear();
  lm.last_modified = "Wed, 21 Oct 2015 07:28:00 GMT";
  lm.size.reset();
  auto lm_text = format_partial_note(lm);
  REQUIRE(lm_text);
  CHECK(lm_text->find("size -\n") != std::string::npos);
  auto lm_back = parse_partial_note(*lm_text);
  REQUIRE(lm_back);
  CHECK(lm_back->etag.empty());
  CHECK(lm_back->validator() == "Wed, 21 Oct 2015 07:28:00 GMT");
  CHECK(!lm_back->size);
}

TEST_CASE("partial note refuses what it cannot write faithfully") {
  PartialNote n = sample();
  n.url += "\nbytes 5";
  CHECK(!format_partial_note(n));
  n = sample();
  n.etag = "W/\"abc\"";  // weak: If-Range needs a strong validator
  CHECK(!format_partial_note(n));
  n = sample();
  n.etag.clear();
  CHECK(!format_partial_note(n));  // no validator at all
  n = sample();
  n.sha256 = std::string(64, 'A');
  CHECK(!format_partial_note(n));
}

TEST_CASE("partial note parser takes exactly the format") {
  std::string good = *format_partial_note(sample());
  auto bad = [](std::string text) { return !parse_partial_note(text); };
  CHECK(parse_partial_note(good));
  CHECK(bad(""));
  CHECK(bad(good.substr(0, good.size() - 1)));          // no final newline
  CHECK(bad("lavabuild-partial 2" + good.substr(19)));  // another version
  CHECK(bad(good + "extra 1\n"));                       // a line too many
  std::string crlf = good;
  crlf.insert(crlf.find('\n'), "\r");
  CHECK(bad(crlf));
  auto with = [&](const std::string& from, const std::string& to) {
    std::string t = good;
    t.replace(t.find(from), from.size(), to);
    return t;
  };
  CHECK(bad(with("bytes 1000", "bytes -1")));
  CHECK(bad(with("bytes 1000", "bytes 01000")));
  CHECK(bad(with("bytes 1000", "bytes 99999999999999999999999")));
  CHECK(bad(with("bytes 1000", "bytes ")));
  CHECK(bad(with("size 4096", "size 4k")));
  CHECK(bad(with("etag \"abc123\"", "etag W/\"abc123\"")));
  CHECK(bad(with("etag \"abc123\"", "etag abc123")));
  CHECK(bad(with("etag \"abc123\"", "vary x")));
  CHECK(bad(with("sha256 " + kSha, "sha256 " + kSha.substr(1))));
  CHECK(bad(with("url ", "url")));
  CHECK(bad(std::string(kMaxPartialNoteBytes + 1, '\n')));
}

TEST_CASE("strong ETags only") {
  CHECK(strong_etag("\"x\"") == "\"x\"");
  CHECK(strong_etag("\"\"") == "\"\"");
  CHECK(strong_etag("W/\"x\"").empty());
  CHECK(strong_etag("x").empty());
  CHECK(strong_etag("\"").empty());
  CHECK(strong_etag("\"a\"b\"").empty());
}
