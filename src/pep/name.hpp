// PEP 503 project-name normalisation and PEP 508 name validity.
#pragma once

#include <string>
#include <string_view>

namespace lb::pep {

/// PEP 503: runs of "-", "_", "." become one "-", then lower-case ("Foo__Bar.baz" ->
/// "foo-bar-baz").
std::string normalize_name(std::string_view name);

/// PEP 508 name: ASCII letters/digits, with "-", "_", "." allowed inside (not at either end).
bool is_valid_name(std::string_view name);

}  // namespace lb::pep
