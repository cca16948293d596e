#include "engine/bytecode.hpp"

#include <unistd.h>

#include <map>
#include <optional>

#include "util/cancel.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/process.hpp"
#include "util/strings.hpp"

namespace lb::engine {

namespace {

constexpr std::string_view kAggregateFormat = "lavabuild.bytecode.v1";
constexpr int64_t kSourceMtime = 1;  // store::kBlobMtime: what every stored source has

// compile() as py_compile does it (importlib's source_to_code: dont_inherit, the given
// optimisation), then importlib's own timestamp pyc writer. Bytes in, bytes out: file names
// are passed through undecoded.
constexpr const char* kScript = R"PY(
import os, sys, warnings
import importlib.util
from importlib import _bootstrap_external as be
warnings.simplefilter("ignore")
try:  # die with lavabuild (a SIGKILLed run must not leave a compiler writing into its temp dir)
    import ctypes
    ctypes.CDLL(None).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
except Exception:
    pass
if os.getppid() != int(sys.argv[1]):
    sys.exit(1)  # it died before prctl
def timestamp_pyc(code, mtime, size):
    if hasattr(be, "_code_to_timestamp_pyc"):
        return be._code_to_timestamp_pyc(code, mtime, size)
    import marshal
    data = bytearray(importlib.util.MAGIC_NUMBER)
    for v in (0, mtime, size):
        data.extend((int(v) & 0xFFFFFFFF).to_bytes(4, "little"))
    data.extend(marshal.dumps(code))
    return bytes(data)
out = sys.stdout
for line in sys.stdin.buffer.read().split(b"\n"):
    if not line:
        continue
    src, dfile, dst, size = line.split(b"\t")
    try:
        with open(src, "rb") as f:
            data = f.read()
        code = compile(data, dfile.decode("utf-8", "surrogateescape"), "exec",
                       dont_inherit=True, optimize=0)
    except (SyntaxError, ValueError, RecursionError):
        out.write("-\n")
        continue
    except Exception:
        out.write("!\n")
        continue
    try:
        with open(dst, "xb") as f:
            f.write(timestamp_pyc(code, 1, int(size)))
        out.write("+\n")
    except Exception:
        out.write("!\n")
out.flush()
)PY";

bool compiles(const wheel::WheelMember& m) {
  return ends_with(m.path, ".py");
}

/// One source to settle: its stored blob and, once known, its pyc.
struct Source {
  std::string sha256;
  uint64_t size = 0;
  bool executable = false;
  bool settled = false;                 ///< known: compiled, or does not compile
  std::optional<env::CompiledPyc> pyc;  ///< when it compiled
};

std::optional<env::CompiledPyc> parse_pyc_entry(std::string_view v) {
  auto sp = v.find(' ');
  if (sp == std::string_view::npos || sp != 64) return std::nullopt;
  env::CompiledPyc p;
  p.sha256 = std::string(v.substr(0, sp));
  p.size = std::strtoull(std::string(v.substr(sp + 1)).c_str(), nullptr, 10);
  return p;
}

}  // namespace

const char* compile_script() {
  return kScript;
}

BytecodeTarget bytecode_target(const Context& ctx) {
  if (ctx.opt.no_compile) return {};
  return {ctx.python.cache_tag, ctx.python.bytecode_magic};
}

std::string bytecode_key(const std::string& unpack_key, const BytecodeTarget& t) {
  return KeyHasher("lavabuild.bytecode.v1")
      .field("unpack", unpack_key)
      .field("magic", t.magic)
      .field("cache_tag", t.cache_tag)
      .field("optimization", "0")
      .field("invalidation", "timestamp")
      .hex();
}

std::string pyc_key(const std::string& source_sha256, uint64_t size, const BytecodeTarget& t) {
  return KeyHasher("lavabuild.pyc.v1")
      .field("source_sha256", source_sha256)
      .field("source_size", int64_t(size))
      .field("magic", t.magic)
      .field("cache_tag", t.cache_tag)
      .field("optimization", "0")
      .field("invalidation", "timestamp")
      .field("source_mtime", kSourceMtime)
      .field("dfile", "sha256")
      .hex();
}

std::shared_ptr<env::Bytecode> load_bytecode(store::Store& store, const std::string& key,
                                             const BytecodeTarget& t) {
  auto v = store.get("bytecode/" + key);
  if (!v.ok() || !v->has_value()) return nullptr;
  return parse_stored_bytecode(store, **v, t);
}

std::shared_ptr<env::Bytecode> parse_stored_bytecode(const store::Store& store,
                                                     std::string_view value,
                                                     const BytecodeTarget& t) {
  auto lines = split(value, '\n');
  if (lines.empty() || lines[0] != kAggregateFormat) return nullptr;
  auto out = std::make_shared<env::Bytecode>();
  out->cache_tag = t.cache_tag;
  out->by_member.reserve(lines.size());
  for (size_t i = 1; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    auto f = split(lines[i], '\t');
    if (f.size() != 3) return nullptr;
    env::CompiledPyc p{f[1], std::strtoull(f[2].c_str(), nullptr, 10)};
    // A pyc removed from the store, or edited through an env's link: compile again.
    if (store.blob_state(p.sha256, false, int64_t(p.size)) != store::BlobState::intact)
      return nullptr;
    out->by_member.emplace(f[0], std::move(p));
  }
  return out;
}

std::vector<std::shared_ptr<env::Bytecode>> compile_bytecode(
    Context& ctx, const BytecodeTarget& t, const std::vector<const wheel::UnpackedWheel*>& wheels,
    const std::vector<std::string>& keys) {
  store::Store& store = *ctx.store;
  // One entry per distinct source: identical files of several wheels compile once.
  std::map<std::string, Source> sources;
  for (const auto* w : wheels)
    for (const auto& m : w->members)
      if (compiles(m)) {
        Source& s = sources[pyc_key(m.sha256, m.size, t)];
        s.sha256 = m.sha256;
        s.size = m.size;
        s.executable = m.executable;
      }

  {
    auto session = store.read_session();  // one open for all lookups (else one per get)
    for (auto& [key, s] : sources) {
      auto v = store.get("pyc/" + key);
      if (!v.ok() || !v->has_value()) continue;
      if (**v == "-") {
        s.settled = true;
        continue;
      }
      auto p = parse_pyc_entry(**v);
      if (p && store.blob_state(p->sha256, false, int64_t(p->size)) == store::BlobState::intact) {
        s.settled = true;
        s.pyc = std::move(p);
      }
    }
  }

  std::vector<Source*> pending;
  std::string input;
  // Several compile steps may run at once (one per group of distributions): each has its
  // own output names.
  const std::string tmp = store.tmp_dir() + "/bytecode-" + fs::random_hex(8) + "-";
  for (auto& [key, s] : sources) {
    if (s.settled) continue;
    std::string out = tmp + std::to_string(pending.size()) + ".pyc";
    input += store.blob_path(s.sha256, s.executable) + "\t<lavabuild>/" + s.sha256 + ".py\t" + out +
             "\t" + std::to_string(s.size) + "\n";
    pending.push_back(&s);
  }
  if (!pending.empty()) {
    ProcessOptions opt;
    opt.stdin_data = std::move(input);
    auto run = run_process(
        {ctx.python.executable, "-I", "-S", "-c", kScript, std::to_string(::getpid())}, opt);
    std::vector<std::string> results;
    if (run.ok()) results = split(run->out, '\n');
    // Ctrl-C reaches the compiler too (one process group): that is no failure to report; the
    // run stops after this step.
    if ((!run.ok() || run->exit_code != 0) && !cancel::cancelled())
      ctx.out->warn("compiling bytecode with " + ctx.python.executable + " failed (" +
                    (run.ok() ? "exit " + std::to_string(run->exit_code) + ": " +
                                    std::string(trim(run->err)).substr(0, 300)
                              : run.error().message) +
                    "); Python will compile the modules left without bytecode when they are "
                    "imported");
    for (size_t i = 0; i < pending.size(); ++i) {
      Source& s = *pending[i];
      std::string out = tmp + std::to_string(i) + ".pyc";
      std::string r = i < results.size() ? results[i] : "";
      if (r == "-") {
        s.settled = true;
        ctx.defer_put("pyc/" + pyc_key(s.sha256, s.size, t), "-");
      } else if (r == "+") {
        uint64_t size = fs::stat_path(out).size;
        auto sha = store.put_blob_file(out, false);
        if (!sha.ok()) {
          ctx.out->warn("cannot store compiled bytecode: " + sha.error().message);
          continue;
        }
        s.settled = true;
        s.pyc = env::CompiledPyc{*sha, size};
        ctx.defer_put("pyc/" + pyc_key(s.sha256, s.size, t), *sha + " " + std::to_string(size));
      }
      (void)fs::remove_all(out);  // left by a failed run, if anything
    }
  }

  std::vector<std::shared_ptr<env::Bytecode>> out;
  for (size_t i = 0; i < wheels.size(); ++i) {
    auto bc = std::make_shared<env::Bytecode>();
    bc->cache_tag = t.cache_tag;
    std::string entry(kAggregateFormat);
    entry += "\n";
    bool complete = true;
    for (const auto& m : wheels[i]->members) {
      if (!compiles(m)) continue;
      const Source& s = sources[pyc_key(m.sha256, m.size, t)];
      if (!s.settled) complete = false;
      if (!s.pyc) continue;
      bc->by_member.emplace(m.path, *s.pyc);
      entry += m.path + "\t" + s.pyc->sha256 + "\t" + std::to_string(s.pyc->size) + "\n";
    }
    if (complete) ctx.defer_put("bytecode/" + keys[i], entry);
    out.push_back(std::move(bc));
  }
  return out;
}

}  // namespace lb::engine
