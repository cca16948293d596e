#include "env/types.hpp"

namespace lb::env {

bool parse_link_mode(const std::string& text, LinkMode& out) {
  if (text == "hardlink")
    out = LinkMode::hardlink;
  else if (text == "clone")
    out = LinkMode::clone;
  else if (text == "copy")
    out = LinkMode::copy;
  else
    return false;
  return true;
}

const char* link_mode_name(LinkMode mode) {
  switch (mode) {
    case LinkMode::hardlink:
      return "hardlink";
    case LinkMode::clone:
      return "clone";
    case LinkMode::copy:
      return "copy";
  }
  return "?";
}

}  // namespace lb::env
