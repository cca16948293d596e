// open_grpc_cache: gRPC, protobuf and their ~40 libraries (abseil, c-ares, re2, upb...) live in
// a module loaded on first use, as libcurl does (src/net/http_loader.cpp): runs without a
// grpc:// remote never map them, and the no-op run's ~10 ms start stays what it is.
//
// The module, liblavabuild-grpc.so, holds src/remote/grpc_cache.cpp and the generated REAPI
// code; it is looked for beside the running executable, then in $LAVABUILD_LIBDIR. Its lb_*
// symbols (strip_credentials) resolve against the executable, which exports them.
#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <mutex>

#include "remote/cache.hpp"
#include "util/fs.hpp"

namespace lb::remote {

namespace {

/// The module's entry point: the cache, or nullptr with *error set.
using Factory = RemoteCache* (*)(const RemoteOptions*, Error*);
constexpr const char* kModule = "liblavabuild-grpc.so";
constexpr const char* kFactory = "lavabuild_open_grpc_cache";

std::string self_dir() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  return fs::dirname(std::string(buf, size_t(n)));
}

Factory load(std::string& why) {
  std::vector<std::string> places{self_dir() + "/" + kModule};
  if (const char* dir = std::getenv("LAVABUILD_LIBDIR"); dir && *dir)
    places.push_back(std::string(dir) + "/" + kModule);
  for (const auto& path : places) {
    void* h = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      const char* e = ::dlerror();
      why += (why.empty() ? "" : "; ") + std::string(e ? e : path);
      continue;
    }
    if (auto f = reinterpret_cast<Factory>(::dlsym(h, kFactory))) return f;
    why += (why.empty() ? "" : "; ") + path + " has no " + kFactory;
  }
  return nullptr;
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
