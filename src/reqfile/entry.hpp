// Internal: turning a requirement line's text into an Entry (pip's parse_req_from_line and
// parse_editable): PEP 508 requirement, URL, local path, VCS URL, editable.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "reqfile/reqfile.hpp"
#include "util/result.hpp"

namespace lb::reqfile::detail {

/// Classify and parse a requirement's text. Sets kind, req, link and fragment hashes; the
/// caller sets loc, text and options. `warnings` receives location-less messages.
Result<Entry> parse_requirement(std::string_view text, std::vector<std::string>& warnings);

/// Parse an `-e` value: a local project directory (relative to the CWD) or a VCS URL.
Result<Entry> parse_editable(std::string_view text);

/// Validate and normalise a `--hash` value to "<algo>:<lowercase hex>".
Result<std::string> parse_hash(std::string_view value);

}  // namespace lb::reqfile::detail
