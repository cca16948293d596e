// Compiled as if it were a file of src/net/ (with lb_net's include path) by the ctest
// include_rule_net_engine, which passes only when this fails to compile because engine/ is
// not among net's dependencies (ARCHITECTURE.md). The allowed include comes first so that a
// broken include path fails differently.
#include "net/url.hpp"
#include "util/fs.hpp"

#include "engine/context.hpp"
