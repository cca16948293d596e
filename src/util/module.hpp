// Loading one of lavabuild's own modules (liblavabuild-curl.so, liblavabuild-grpc.so): the
// heavy libraries behind a protocol live in a shared object mapped on first use, so runs that
// never need them (the no-op re-run) do not pay their dynamic linking at every start.
//
// A module is looked for beside the running executable (/proc/self/exe), then in
// $LAVABUILD_LIBDIR; its lb_* symbols resolve against the executable, which exports them.
#pragma once

#include <string>

namespace lb::module {

/// The address of `symbol` in the module `file` (a file name, e.g. "liblavabuild-curl.so"),
/// loaded with RTLD_NOW | RTLD_LOCAL from the first place that has it; nullptr with `why`
/// saying what each place answered (dlerror's text, or a missing symbol).
void* load_symbol(const std::string& file, const char* symbol, std::string& why);

}  // namespace lb::module
