#include "wheel/libarchive.hpp"

#include <dlfcn.h>

#include <mutex>

namespace lb::libarchive {

namespace {

Functions g_functions;
std::once_flag g_once;
std::string g_error;  // empty: loaded

void load_once() {
  void* h = ::dlopen(LB_LIBARCHIVE_SONAME, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char* e = ::dlerror();
    g_error = e ? e : "dlopen failed";
    return;
  }
  Functions f;
#define LB_LIBARCHIVE_RESOLVE(fn)                                          \
  f.fn = reinterpret_cast<decltype(&::fn)>(::dlsym(h, #fn));               \
  if (!f.fn) {                                                             \
    g_error = std::string(LB_LIBARCHIVE_SONAME) + " has no function " #fn; \
    return;                                                                \
  }
  LB_LIBARCHIVE_FUNCTIONS(LB_LIBARCHIVE_RESOLVE)
#undef LB_LIBARCHIVE_RESOLVE
  g_functions = f;  // kept loaded for the life of the process
}

}  // namespace

Status load() {
  std::call_once(g_once, load_once);
  if (g_error.empty()) return {};
  return make_error("cannot load libarchive (" LB_LIBARCHIVE_SONAME
                    "), which lavabuild needs to "
                    "read wheels and source archives: " +
                        g_error,
                    "install it (Debian: apt-get install libarchive13)");
}

const Functions& functions() {
  return g_functions;
}

}  // namespace lb::libarchive
