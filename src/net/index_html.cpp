// PEP 503 (+ PEP 592 yanked, PEP 658/714 metadata) HTML project pages.
#include <cctype>

#include "net/html.hpp"
#include "net/index.hpp"
#include "net/url.hpp"
#include "util/strings.hpp"

namespace lb::net {

// Lowercased `hex` when it is a sha256 digest, else "".
static std::string sha256_or_empty(std::string_view hex) {
  if (hex.size() != 64) return {};
  for (char c : hex)
    if (!std::isxdigit(static_cast<unsigned char>(c))) return {};
  return to_lower(hex);
}

// "sha256=HEX" among "&"-separated "name=value" pairs.
static std::string sha256_from_pairs(std::string_view text) {
  for (const std::string& kv : split(text, '&')) {
    size_t eq = kv.find('=');
    if (eq != std::string::npos && to_lower(kv.substr(0, eq)) == "sha256")
      return sha256_or_empty(kv.substr(eq + 1));
  }
  return {};
}

Error too_many_files(const std::string& page_url, size_t max_files) {
  return make_error("the index page " + redact_url(page_url) + " lists more than " +
                        std::to_string(max_files) + " files",
                    "check the URL, or set LAVABUILD_MAX_PAGE_FILES higher");
}

Result<std::vector<IndexFile>> parse_simple_html(std::string_view html, const std::string& base_url,
                                                 size_t max_files) {
  std::vector<IndexFile> files;
  std::string base = base_url;
  bool saw_base = false, too_many = false;
  // One tag at a time, stopping at the file limit: a page of millions of tiny links costs the
  // files kept, not every tag of the page.
  scan_tags(html, {"a", "base"}, [&](HtmlTag& tag) {
    if (tag.name == "base") {
      const std::string* href = tag.attr("href");
      if (href && !saw_base && href->size() <= kMaxUrlLength)
        base = resolve_url(base_url, trim(*href));
      saw_base = saw_base || href;
      return true;
    }
    const std::string* href = tag.attr("href");
    if (!href || trim(*href).empty() || href->size() > kMaxUrlLength) return true;
    if (max_files && files.size() >= max_files) {
      too_many = true;
      return false;
    }
    std::string url = resolve_url(base, trim(*href));
    IndexFile f;
    f.url = strip_fragment(url);
    f.filename = url_filename(f.url);
    if (f.filename.empty()) return true;
    f.filename.shrink_to_fit();  // decoded a byte at a time: its capacity may be twice its size
    f.sha256 = sha256_from_pairs(url_fragment(url));
    if (const std::string* rp = tag.attr("data-requires-python")) f.requires_python = *rp;
    if (const std::string* y = tag.attr("data-yanked")) {
      f.yanked = true;
      f.yanked_reason = *y;
    }
    const std::string* meta = tag.attr("data-core-metadata");
    if (!meta) meta = tag.attr("data-dist-info-metadata");
    if (meta && to_lower(trim(*meta)) != "false") {
      f.has_metadata = true;
      f.metadata_sha256 = sha256_from_pairs(trim(*meta));
    }
    f.origin = base_url;
    files.push_back(std::move(f));
    return true;
  });
  if (too_many) return too_many_files(base_url, max_files);
  return files;
}

}  // namespace lb::net
