// open_grpc_cache: gRPC, protobuf and their ~40 libraries (abseil, c-ares, re2, upb...) live in
// a module loaded on first use, as libcurl does (src/net/http_loader.cpp): runs without a
// grpc:// remote never map them, and the no-op run's ~10 ms start stays what it is.
//
// The module, liblavabuild-grpc.so, holds src/remote/grpc_cache.cpp and the generated REAPI
// code; it is looked for beside the running executable, then in $LAVABUILD_LIBDIR. Its lb_*
// symbols (strip_credentials) resolve against the executable, which exports them.
#include <mutex>

#include "remote/cache.hpp"
#include "util/module.hpp"

namespace lb::remote {

namespace {

/// The module's entry point: the cache, or nullptr with *error set.
using Factory = RemoteCache* (*)(const RemoteOptions*, Error*);
constexpr const char* kModule = "liblavabuild-grpc.so";
constexpr const char* kFactory = "lavabuild_open_grpc_cache";

Factory load(std::string& why) {
  return reinterpret_cast<Factory>(module::load_symbol(kModule, kFactory, why));
}

}  // namespace

/// What the module calls in the executable, referenced here so that every executable linking
/// lb_remote has it (see http_loader.cpp); a missing one fails the load with dlerror's text.
[[gnu::used]] const void* const kGrpcModuleNeeds[] = {
    reinterpret_cast<const void*>(&strip_credentials),
};

Result<std::unique_ptr<RemoteCache>> open_grpc_cache(const RemoteOptions& opt) {
  (void)kGrpcModuleNeeds;
  static std::once_flag once;
  static Factory factory = nullptr;
  static std::string why;
  std::call_once(once, [] { factory = load(why); });
  if (!factory)
    return make_error("--remote-cache " + strip_credentials(opt.url) +
                          ": cannot load lavabuild's gRPC module: " + why,
                      "reinstall lavabuild: liblavabuild-grpc.so belongs beside the lavabuild "
                      "executable (or in $LAVABUILD_LIBDIR)");
  Error error;
  RemoteCache* cache = factory(&opt, &error);
  if (!cache) return error;
  return std::unique_ptr<RemoteCache>(cache);
}

}  // namespace lb::remote
