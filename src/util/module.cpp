#include "util/module.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

#include "util/fs.hpp"

namespace lb::module {

namespace {

std::string self_dir() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  return fs::dirname(std::string(buf, size_t(n)));
}

}  // namespace

void* load_symbol(const std::string& file, const char* symbol, std::string& why) {
  std::vector<std::string> places{self_dir() + "/" + file};
  if (const char* dir = std::getenv("LAVABUILD_LIBDIR"); dir && *dir)
    places.push_back(std::string(dir) + "/" + file);
  for (const auto& path : places) {
    void* h = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      const char* e = ::dlerror();
      why += (why.empty() ? "" : "; ") + std::string(e ? e : path);
      continue;
    }
    if (void* f = ::dlsym(h, symbol)) return f;
    why += (why.empty() ? "" : "; ") + path + " has no " + symbol;
  }
  return nullptr;
}

}  // namespace lb::module
