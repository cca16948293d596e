#include "resolve/resolver.hpp"

#include "resolve/solver.hpp"

namespace lb::resolve {

Result<Resolution> resolve(const std::vector<pep::Requirement>& roots, Provider& provider,
                           const Options& options) {
  return Solver(roots, provider, options).run();
}

}  // namespace lb::resolve
