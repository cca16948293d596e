// Bytecode compiled once per source digest and interpreter, kept in the store and linked into
// every env beside its source (pip compiles it into each env; `--no-compile` skips it).
//
// The pycs are PEP 552 timestamp pycs (flags 0) recording mtime 1 s and the source's size:
// every stored blob has that mtime (store::kBlobMtime) and that size, and so has every hard
// link to it and every copy lavabuild makes (env/fileops.hpp). One pyc is therefore valid for
// every env that links the source; a write through any link changes the mtime and Python
// recompiles instead of using stale bytecode. (Unchecked-hash pycs would never notice an edit;
// checked-hash ones would make Python hash the source at every import.) The code object's
// co_filename is "<lavabuild>/<source sha256>.py", the same for every env; importlib replaces
// it with the real path on load (_imp._fix_co_filename), so tracebacks name the env's file.
//
// Index entries owned here (values plain text):
//   "pyc/<pyc key>" -> "<pyc blob sha256 hex> <size>", or "-" when the source does not compile
//                      for this interpreter (a syntax error: skipped like compileall's quiet
//                      mode, and not retried)
//     pyc key = KeyHasher "lavabuild.pyc.v1": source_sha256, source_size, magic (hex of
//               importlib.util.MAGIC_NUMBER), cache_tag, optimization ("0"), invalidation
//               ("timestamp"), source_mtime (1), dfile ("sha256")
//   "bytecode/<bytecode key>" -> "lavabuild.bytecode.v1\n" then one line per compiled member:
//                      "<member path>\t<pyc sha256 hex>\t<size>\n" (members that do not
//                      compile are absent); written only when every .py member was settled
//     bytecode key = KeyHasher "lavabuild.bytecode.v1": unpack key, magic, cache_tag,
//                    optimization, invalidation
// A change of meaning of either bumps its version.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/context.hpp"
#include "env/bytecode.hpp"
#include "wheel/wheel.hpp"

namespace lb::engine {

/// What bytecode a run compiles; `enabled()` is false with --no-compile or when the
/// interpreter has no cache_tag (it writes no bytecode cache).
struct BytecodeTarget {
  std::string cache_tag;  ///< "cpython-311"
  std::string magic;      ///< importlib.util.MAGIC_NUMBER, hex
  bool enabled() const { return !cache_tag.empty() && !magic.empty(); }
  /// "cpython-311:a70d0d0a", or "none": for link keys and the env stamp.
  std::string describe() const { return enabled() ? cache_tag + ":" + magic : "none"; }
};

/// The target of this run (from ctx.opt.no_compile and ctx.python).
BytecodeTarget bytecode_target(const Context& ctx);

/// Key of the bytecode of one unpacked wheel ("bytecode/<key>").
std::string bytecode_key(const std::string& unpack_key, const BytecodeTarget& t);

/// Key of the pyc of one source ("pyc/<key>").
std::string pyc_key(const std::string& source_sha256, uint64_t size, const BytecodeTarget& t);

/// The stored bytecode of a wheel, when the index has it and all its pyc blobs are intact;
/// else nullptr.
std::shared_ptr<env::Bytecode> load_bytecode(store::Store& store, const std::string& key,
                                             const BytecodeTarget& t);
/// load_bytecode's second half: the value of "bytecode/<key>" parsed, and every pyc blob it
/// names checked in the store (no index access: safe on the executor's threads).
std::shared_ptr<env::Bytecode> parse_stored_bytecode(const store::Store& store,
                                                     std::string_view value,
                                                     const BytecodeTarget& t);

/// Compile the .py members of `wheels` that are not in the store yet, in one run of the
/// target interpreter, and return the bytecode of each wheel (same order as `keys`, its
/// bytecode keys). Index entries go through ctx.defer_put. A failure of the interpreter run
/// is a warning: the files it did not compile get no pyc (Python compiles them at import).
std::vector<std::shared_ptr<env::Bytecode>> compile_bytecode(
    Context& ctx, const BytecodeTarget& t, const std::vector<const wheel::UnpackedWheel*>& wheels,
    const std::vector<std::string>& keys);

/// The compiler program, run as `python -I -S -c <script>`; stdin: one line per source
/// "<source path>\t<dfile>\t<output path>\t<source size>"; stdout: one line per source, "+"
/// (written), "-" (does not compile) or "!" (another error: not remembered).
const char* compile_script();

}  // namespace lb::engine
