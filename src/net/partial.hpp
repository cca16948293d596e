// Partial downloads: the bytes of an interrupted download, kept so that the next download of
// the URL asks only for the rest (Range: bytes=N- with If-Range) instead of starting over.
//
// Persistent format (owned here), in <cache>/partial/ (see store/store.hpp):
//   <sha256(url)>        the first bytes of the URL's body, as received (mode 0600)
//   <sha256(url)>.note   text, LF-terminated lines in this order, "<key> <value>":
//                          lavabuild-partial 1
//                          url <the URL>
//                          etag <a strong ETag, quotes included>   or
//                          last-modified <the HTTP date the server sent>
//                          sha256 <the sha256 hex the whole file must have>
//                          size <the size the index or lock declares, or ->
//                          bytes <the length of <sha256(url)>>
// Both are written only by a process holding the URL's download lock (net/url_lock.hpp): the
// bytes are renamed into place from a temp file this process created, then the note is
// written with fs::write_file_atomic; the old note is removed first, so a note never describes
// bytes it was not written for (and `bytes` must equal the file's length anyway).
//
// A partial is used only when all of these hold, else both files are removed and the download
// starts over: the note parses, names the same URL and the same expected sha256 (a download
// without a known sha256 keeps no partial: a resumed file is never taken unverified), has a
// validator, is younger than kMaxPartialAge, and the file is a regular file of `bytes` bytes,
// fewer than the download's size limit. The whole file is hashed (partial first, then the
// rest as it streams) and checked as any download; a mismatch discards the partial too.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lb::net {

/// The first line of a note.
inline constexpr std::string_view kPartialNoteVersion = "lavabuild-partial 1";
/// A partial older than this (by its note's mtime) is discarded, not resumed: the file on the
/// server has likely changed (docs/LIMITS.md).
inline constexpr std::chrono::hours kMaxPartialAge{24 * 7};
/// A note longer than this is not read (URLs are at most 64 KiB, docs/LIMITS.md).
inline constexpr uint64_t kMaxPartialNoteBytes = 80 * 1024;

/// What a note says.
struct PartialNote {
  std::string url;
  std::string etag;           ///< a strong ETag (quotes included), or empty
  std::string last_modified;  ///< used when there is no ETag
  std::string sha256;         ///< lowercase hex, always set
  std::optional<uint64_t> size;
  uint64_t bytes = 0;
  /// The If-Range value: the ETag, else Last-Modified.
  const std::string& validator() const { return etag.empty() ? last_modified : etag; }
};

/// The note's text; nullopt when it cannot be written faithfully (a field holding a line
/// break, no validator, a weak ETag, a sha256 that is not 64 lowercase hex digits).
std::optional<std::string> format_partial_note(const PartialNote& note);
/// Parse a note; nullopt for anything but exactly the format above.
std::optional<PartialNote> parse_partial_note(std::string_view text);

/// `etag` when it is a strong ETag ("..." with no W/ prefix), else empty: a weak ETag cannot
/// be sent in If-Range.
std::string strong_etag(std::string_view etag);

}  // namespace lb::net
