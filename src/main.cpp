// lavabuild: build Python virtual environments the way a build system builds software.
#include <cstdio>
#include <exception>

#include "cli/commands.hpp"
#include "util/cancel.hpp"

int main(int argc, char** argv) {
  lb::cancel::install_handlers();  // Ctrl-C and SIGTERM stop new work (util/cancel.hpp)
  try {
    return lb::cli::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lavabuild: internal error: %s\n", e.what());
    return 3;
  }
}
