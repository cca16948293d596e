#!/usr/bin/python3
"""Deterministic test distributions for lavabuild (Python 3 stdlib only).

Writes real wheels (RECORD with urlsafe-b64 sha256 + sizes, WHEEL, METADATA with
Requires-Dist/extras/markers/Requires-Python, entry points, a .data dir, native .so
built by gcc) and sdists. The same corpus and options give identical bytes.

  make_fixtures.py --out DIR CORPUS [--native-tag TAG]   CORPUS: basic bench hostile instances versions webapp resolver-SEED
  make_fixtures.py --index ROOT [--yanked FILE]           PEP 503 index of ROOT/files into ROOT/simple
  make_fixtures.py --out ROOT/files basic --index ROOT    both

A corpus may write `yanked.txt` (lines "filename reason") beside its files; --index reads it.
The module is importable (tests use Dist, build_wheel, build_sdist, write_index).
"""
from __future__ import annotations

import argparse
import base64
import csv
import gzip
import hashlib
import html
import io
import os
import random
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass, field

ZIP_TIME = (2020, 1, 1, 0, 0, 0)
TAR_MTIME = 1577836800  # 2020-01-01
DEFAULT_NATIVE_TAG = "cp311-cp311-linux_x86_64"


# ---------------------------------------------------------------- names / hashes
def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def escape(name: str) -> str:
    """Name as it appears in wheel/sdist filenames and .dist-info dirs."""
    return normalize(name).replace("-", "_")


def record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- native code
_SO_CACHE: dict[bytes, bytes] = {}


def compile_so(c_source: str) -> bytes:
    """A plain C shared library (no Python headers); deterministic for a given source."""
    key = c_source.encode()
    if key not in _SO_CACHE:
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "native.c")
            out = os.path.join(tmp, "native.so")
            with open(src, "w") as f:
                f.write(c_source)
            subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-Wl,--build-id=none",
                            "-o", out, src], check=True, cwd=tmp)
            with open(out, "rb") as f:
                _SO_CACHE[key] = f.read()
    return _SO_CACHE[key]


def native_package(pkg: str, answer: int) -> dict[str, bytes]:
    """Files of an import package `pkg` whose native() calls into _native.so via ctypes."""
    c_src = f"int lb_answer(void) {{ return {answer}; }}\n" \
            f"const char *lb_name(void) {{ return \"{pkg}\"; }}\n"
    init = (
        "import ctypes, os\n"
        "_lib = ctypes.CDLL(os.path.join(os.path.dirname(__file__), '_native.so'))\n"
        "_lib.lb_name.restype = ctypes.c_char_p\n\n"
        "def native():\n"
        "    return _lib.lb_answer()\n\n"
        "def native_name():\n"
        "    return _lib.lb_name().decode()\n"
    )
    return {f"{pkg}/__init__.py": init.encode(), f"{pkg}/_native.so": compile_so(c_src)}


# ---------------------------------------------------------------- distributions
@dataclass
class Dist:
    name: str
    version: str
    files: dict = field(default_factory=dict)        # path in wheel root -> bytes
    executable: set = field(default_factory=set)     # root paths with the exec bit
    requires: list = field(default_factory=list)     # Requires-Dist lines (PEP 508, may carry extra markers)
    extras: list = field(default_factory=list)       # Provides-Extra
    requires_python: str = ""
    console_scripts: dict = field(default_factory=dict)
    gui_scripts: dict = field(default_factory=dict)
    other_entry_points: dict = field(default_factory=dict)  # group -> {name: value}
    data: dict = field(default_factory=dict)         # (scheme, path) -> bytes; scheme scripts/data/headers/purelib/platlib
    purelib: bool = True
    tag: str = "py3-none-any"
    build: str = ""
    summary: str = ""
    metadata_only: bool = False                      # resolver fixtures: only the .dist-info

    @property
    def dist_info(self) -> str:
        return f"{escape(self.name)}-{self.version}.dist-info"

    @property
    def data_dir(self) -> str:
        return f"{escape(self.name)}-{self.version}.data"

    def wheel_filename(self) -> str:
        build = f"-{self.build}" if self.build else ""
        return f"{escape(self.name)}-{self.version}{build}-{self.tag}.whl"

    def sdist_filename(self) -> str:
        return f"{escape(self.name)}-{self.version}.tar.gz"

    def metadata(self) -> bytes:
        lines = ["Metadata-Version: 2.1", f"Name: {self.name}", f"Version: {self.version}",
                 f"Summary: {self.summary or 'lavabuild test fixture ' + self.name}"]
        if self.requires_python:
            lines.append(f"Requires-Python: {self.requires_python}")
        lines += [f"Provides-Extra: {e}" for e in self.extras]
        lines += [f"Requires-Dist: {r}" for r in self.requires]
        return ("\n".join(lines) + "\n\nLong description of " + self.name + ".\n").encode()

    def wheel_file(self) -> bytes:
        lines = ["Wheel-Version: 1.0", "Generator: lavabuild-make-fixtures (1.0)",
                 f"Root-Is-Purelib: {'true' if self.purelib else 'false'}"]
        interp, abi, plats = self.tag.split("-")
        for i in interp.split("."):
            for a in abi.split("."):
                for p in plats.split("."):
                    lines.append(f"Tag: {i}-{a}-{p}")
        if self.build:
            lines.append(f"Build: {self.build}")
        return ("\n".join(lines) + "\n").encode()

    def entry_points(self) -> bytes:
        groups = {}
        if self.console_scripts:
            groups["console_scripts"] = self.console_scripts
        if self.gui_scripts:
            groups["gui_scripts"] = self.gui_scripts
        groups.update(self.other_entry_points)
        out = []
        for g in sorted(groups):
            out.append(f"[{g}]")
            out += [f"{k} = {v}" for k, v in sorted(groups[g].items())]
            out.append("")
        return "\n".join(out).encode()

    def members(self) -> list[tuple[str, bytes, bool]]:
        """(path, content, executable) in wheel order, without RECORD."""
        body: list[tuple[str, bytes, bool]] = []
        if not self.metadata_only:
            for p in sorted(self.files):
                body.append((p, self.files[p], p in self.executable))
            for (scheme, p) in sorted(self.data):
                path = f"{self.data_dir}/{scheme}/{p}"
                body.append((path, self.data[(scheme, p)], scheme == "scripts"))
        di = self.dist_info
        meta = [(f"{di}/METADATA", self.metadata(), False), (f"{di}/WHEEL", self.wheel_file(), False)]
        if self.console_scripts or self.gui_scripts or self.other_entry_points:
            meta.append((f"{di}/entry_points.txt", self.entry_points(), False))
        if not self.metadata_only:
            meta.append((f"{di}/top_level.txt", self._top_level(), False))
        return body + sorted(meta)

    def _top_level(self) -> bytes:
        tops = sorted({p.split("/")[0].removesuffix(".py") for p in self.files
                       if not p.endswith(".pth")})
        return ("\n".join(tops) + "\n").encode() if tops else b""


def make_record(members: list[tuple[str, bytes, bool]], record_path: str) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for path, content, _ in members:
        w.writerow([path, record_hash(content), len(content)])
    w.writerow([record_path, "", ""])
    return buf.getvalue().encode()


def zip_info(path: str, mode: int) -> zipfile.ZipInfo:
    zi = zipfile.ZipInfo(path, date_time=ZIP_TIME)
    zi.create_system = 3
    zi.external_attr = mode << 16
    zi.compress_type = zipfile.ZIP_DEFLATED
    return zi


def write_zip(path: str, entries: list[tuple[str, bytes, int]]) -> None:
    """entries: (member name, bytes, st_mode) written in the given order (duplicates allowed)."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with zipfile.ZipFile(path, "w") as zf:
            for name, content, mode in entries:
                zf.writestr(zip_info(name, mode), content)


def mode_of(executable: bool) -> int:
    return 0o100755 if executable else 0o100644


def build_wheel(dist: Dist, outdir: str) -> str:
    members = dist.members()
    record_path = f"{dist.dist_info}/RECORD"
    record = make_record(members, record_path)
    entries = [(p, c, mode_of(x)) for p, c, x in members] + [(record_path, record, 0o100644)]
    out = os.path.join(outdir, dist.wheel_filename())
    write_zip(out, entries)
    return out


def _tar_add(tf: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    ti = tarfile.TarInfo(name)
    ti.size, ti.mtime, ti.mode = len(data), TAR_MTIME, mode
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = ""
    tf.addfile(ti, io.BytesIO(data))


IN_TREE_BACKEND = '''\
"""A dependency-free PEP 517 backend: packages src files into a wheel with zipfile."""
import base64, hashlib, os, zipfile

NAME, VERSION = {name!r}, {version!r}
ESC = NAME.replace("-", "_")
DI = f"{{ESC}}-{{VERSION}}.dist-info"


def get_requires_for_build_wheel(config_settings=None):
    return []


def _h(b):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(b).digest()).rstrip(b"=").decode()


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    root = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(root, "PKG-INFO"), "rb") as f:
        meta = f.read()
    files = []
    src = os.path.join(root, "src")
    for dp, dns, fns in os.walk(src):
        dns.sort()
        for fn in sorted(fns):
            p = os.path.join(dp, fn)
            with open(p, "rb") as f:
                files.append((os.path.relpath(p, src).replace(os.sep, "/"), f.read()))
    files.append((DI + "/METADATA", meta))
    files.append((DI + "/WHEEL", b"Wheel-Version: 1.0\\nGenerator: in-tree\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"))
    record = "".join(f"{{p}},{{_h(b)}},{{len(b)}}\\n" for p, b in files) + DI + "/RECORD,,\\n"
    name = f"{{ESC}}-{{VERSION}}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w", zipfile.ZIP_DEFLATED) as z:
        for p, b in files + [(DI + "/RECORD", record.encode())]:
            zi = zipfile.ZipInfo(p, (2020, 1, 1, 0, 0, 0))
            zi.external_attr = 0o100644 << 16
            z.writestr(zi, b, zipfile.ZIP_DEFLATED)
    return name
'''


def build_sdist(dist: Dist, outdir: str) -> str:
    """An sdist with PKG-INFO, pyproject.toml and an in-tree backend (no build deps)."""
    base = f"{escape(dist.name)}-{dist.version}"
    pyproject = (
        "[build-system]\nrequires = []\nbuild-backend = \"lb_backend\"\nbackend-path = [\".\"]\n\n"
        f"[project]\nname = \"{dist.name}\"\nversion = \"{dist.version}\"\n"
    ).encode()
    backend = IN_TREE_BACKEND.format(name=dist.name, version=dist.version).encode()
    entries = {"PKG-INFO": dist.metadata(), "pyproject.toml": pyproject, "lb_backend.py": backend}
    for p, c in dist.files.items():
        entries["src/" + p] = c
    out = os.path.join(outdir, dist.sdist_filename())
    raw = io.BytesIO()
    with gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.USTAR_FORMAT) as tf:
            for p in sorted(entries):
                _tar_add(tf, f"{base}/{p}", entries[p])
    with open(out, "wb") as f:
        f.write(raw.getvalue())
    return out


def py_module(pkg: str, version: str, extra: str = "") -> bytes:
    return f'"""{pkg} (lavabuild fixture)."""\n__version__ = "{version}"\n\n\ndef hello():\n' \
           f'    return "hello from {pkg} {version}"\n{extra}'.encode()


# ---------------------------------------------------------------- corpora
def corpus_basic(native_tag: str) -> tuple[list[Dist], list[Dist]]:
    """(wheels, sdists). A dependency graph with extras, markers, entry points, .data, native."""
    alpha_cli = b'import sys\n\ndef main():\n    import beta, gamma\n' \
                b'    print("alpha-cli ok", beta.__version__, gamma.__version__)\n    return 0\n'
    alpha_gui = b'def main():\n    print("alpha-gui ok")\n    return 0\n'
    alpha = Dist(
        "alpha", "1.0",
        files={"alpha/__init__.py": py_module("alpha", "1.0"), "alpha/cli.py": alpha_cli,
               "alpha/gui.py": alpha_gui, "alpha/resources/config.json": b'{"alpha": true}\n'},
        requires=["beta>=1.0", "gamma[fast]>=2.0", "epsilon; sys_platform == \"win32\""],
        requires_python=">=3.7",
        console_scripts={"alpha-cli": "alpha.cli:main"},
        gui_scripts={"alpha-gui": "alpha.gui:main"},
        other_entry_points={"alpha.plugins": {"default": "alpha.cli:main"}},
        data={("scripts", "alpha-tool"): b"#!python\nimport alpha\nprint('alpha-tool ok', alpha.__version__)\n",
              ("scripts", "alpha-sh"): b"#!/bin/sh\necho alpha-sh ok\n",
              ("data", "share/alpha/readme.txt"): b"alpha shared data\n",
              ("headers", "alpha.h"): b"#define ALPHA 1\n"},
    )
    beta = [Dist("beta", v, files={"beta/__init__.py": py_module("beta", v),
                                   "beta/util.py": f"VALUE = {v!r}\n".encode()},
                 requires=["delta>=0.5; python_version >= \"3.6\"", "ancient<1; python_version < \"3\""])
            for v in ("1.0", "1.1")]
    gamma = Dist("gamma", "2.0", files={"gamma/__init__.py": py_module("gamma", "2.0")},
                 extras=["fast", "slow"],
                 requires=["zeta>=3.0; extra == \"fast\"", "nonexistent-pkg; extra == 'slow'"])
    delta = Dist("delta", "0.5", files={"delta/__init__.py": py_module("delta", "0.5")})
    zeta = Dist("zeta", "3.1", files={"zeta/__init__.py": py_module("zeta", "3.1"),
                                      "zeta/sub/__init__.py": b"", "zeta/sub/mod.py": b"X = 1\n"})
    native = Dist("native-ext", "1.0", files=native_package("native_ext", 42),
                  purelib=False, tag=native_tag)
    mixed = Dist("Mixed_Case.Name", "1.0", files={"mixedcase/__init__.py": py_module("mixedcase", "1.0")})
    ns_a = Dist("ns-pkg-a", "1.0", files={"nspkg/a/__init__.py": py_module("nspkg.a", "1.0")})
    ns_b = Dist("ns-pkg-b", "1.0", files={"nspkg/b/__init__.py": py_module("nspkg.b", "1.0")})
    eta = Dist("eta", "1.0", requires_python=">=3.8",
               files={"eta/__init__.py": py_module("eta", "1.0"), "eta/data/table.csv": b"a,b\n1,2\n",
                      "eta/sub/__init__.py": b"", "eta/sub/deep/__init__.py": b"",
                      "eta/sub/deep/leaf.py": b"LEAF = True\n", "eta-hook.pth": b"import os\n"})
    kappa = Dist("kappa", "1.0", files={"kappa/__init__.py": py_module("kappa", "1.0")},
                 data={("purelib", "kappa_pure.py"): b"PURE = 1\n",
                       ("platlib", "kappa_plat.py"): b"PLAT = 1\n"})
    winonly = Dist("winonly", "1.0", files={"winonly/__init__.py": b""}, purelib=False,
                   tag="cp311-cp311-win_amd64")
    iota = Dist("iota", "1.0", files={"iota/__init__.py": py_module("iota", "1.0")})
    wheels = [alpha, *beta, gamma, delta, zeta, native, mixed, ns_a, ns_b, eta, kappa, winonly]
    return wheels, [iota, delta]


BASIC_REQUIREMENTS = """\
# basic corpus: everything installable on Linux CPython
alpha==1.0
beta==1.0
native-ext==1.0
Mixed_Case.Name==1.0
ns-pkg-a==1.0
ns-pkg-b==1.0
eta==1.0
kappa==1.0
"""


def corpus_versions() -> tuple[list[Dist], dict[str, str]]:
    """Several versions: pre-releases, a yanked one, requires-python mismatches."""
    def d(name, v, **kw):
        return Dist(name, v, files={f"{escape(name)}/__init__.py": py_module(escape(name), v)}, **kw)
    wheels = [d("vpkg", "1.0"), d("vpkg", "1.1"), d("vpkg", "1.2"),
              d("vpkg", "1.3", requires_python=">=4.0"), d("vpkg", "2.0b1"),
              d("vdep", "1.0", requires=["vpkg<2,>=1.0"]),
              d("vwantspre", "1.0", requires=["vpkg>=2.0b1"]),
              d("vonlypre", "1.0rc1"),
              d("vnopy", "1.0", requires_python="<3"), d("vnopy", "2.0", requires_python=">=4"),
              d("vconflict-a", "1.0", requires=["vpkg==1.0"]),
              d("vconflict-b", "1.0", requires=["vpkg==1.1"]),
              d("vepoch", "1.0"), d("vepoch", "1!0.5"),
              d("vpost", "1.0"), d("vpost", "1.0.post1"), d("vlocal", "1.0+local.1")]
    yanked = {wheels[2].wheel_filename(): "broken release"}
    return wheels, yanked


def corpus_webapp() -> list[Dist]:
    hello = (b'import sys\nimport greeting, webutil\n\n\ndef main():\n'
             b'    print(greeting.greet("webapp") + " " + webutil.banner())\n    return 0\n')
    return [
        Dist("webapp", "1.0", files={"webapp/__init__.py": py_module("webapp", "1.0"),
                                     "webapp/hello.py": hello},
             requires=["webutil>=1.0", "greeting[color]>=1.0"],
             console_scripts={"webapp-hello": "webapp.hello:main"}),
        Dist("webutil", "1.0", files={"webutil/__init__.py": b'def banner():\n    return "(served by webutil 1.0)"\n'}),
        Dist("greeting", "1.0", extras=["color"], requires=["colorful>=0.1; extra == \"color\""],
             files={"greeting/__init__.py": b'def greet(who):\n    return "Hello from " + who + "!"\n'}),
        Dist("colorful", "0.1", files={"colorful/__init__.py": b'RED = "\\x1b[31m"\n'}),
    ]


# webserve.app for `lavabuild instance` (the `instances` corpus): a small HTTP service on
# 127.0.0.1:$PORT (stdlib only) that says which release answers and what its environment holds.
WEBSERVE_APP = '''\
"""webserve {version} (lavabuild fixture): an HTTP service for the `lavabuild instance` tests.

GET /            200 "webserve {version}\\n"
GET /env/NAME    200 the value of the environment variable NAME (no newline), 404 when unset
GET /whoami      200 os.geteuid() and a newline
Listens on 127.0.0.1:$PORT (required), prints "listening on PORT" once bound, and on SIGTERM
stops serving and exits 0.
"""
import http.server
import os
import signal
import sys
import threading

import webtools

VERSION = "{version}"


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/":
            self.reply(200, "webserve " + VERSION + "\\n")
        elif self.path.startswith("/env/"):
            value = os.environ.get(self.path[len("/env/"):])
            if value is None:
                self.reply(404, "unset\\n")
            else:
                self.reply(200, value)
        elif self.path == "/whoami":
            self.reply(200, "%d\\n" % os.geteuid())
        else:
            self.reply(404, "not found\\n")

    def reply(self, code, text):
        body = webtools.encode(text)
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # one line per request would flood the log
        pass


class Server(http.server.ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    port = os.environ.get("PORT", "")
    if not port.isdigit():
        print("webserve: set PORT to the port to listen on", file=sys.stderr, flush=True)
        return 2
    server = Server(("127.0.0.1", int(port)), Handler)

    def on_sigterm(signum, frame):
        # shutdown() waits for serve_forever() to return: not from its own thread
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_sigterm)
    print("listening on " + port, flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0
'''

CRASHY_MAIN = b'''"""crashy (lavabuild fixture): a service that fails at once, every time."""


def main():
    print("crashy starting", flush=True)
    return 1
'''


def corpus_instances() -> list[Dist]:
    """Pure-Python services for `lavabuild instance`: webserve 1.0 and 2.0 (console script
    `webserve`, requires webtools>=1.0), webtools 1.0, and crashy 1.0 (console script
    `crashy`: prints "crashy starting" and exits 1)."""
    out = [Dist("webserve", v, files={"webserve/__init__.py": py_module("webserve", v),
                                      "webserve/app.py": WEBSERVE_APP.format(version=v).encode()},
                requires=["webtools>=1.0"], console_scripts={"webserve": "webserve.app:main"})
           for v in ("1.0", "2.0")]
    out.append(Dist("webtools", "1.0", files={"webtools/__init__.py": py_module(
        "webtools", "1.0", '\n\ndef encode(text):\n    return text.encode("utf-8")\n')}))
    out.append(Dist("crashy", "1.0", files={"crashy/__init__.py": CRASHY_MAIN},
                    console_scripts={"crashy": "crashy:main"}))
    return out


def corpus_hostile() -> list[tuple[str, list[tuple[str, bytes, int]]]]:
    """(filename, raw zip entries). Each wheel is broken in exactly one way; the bad member
    names are distinctive so tests can look for them in error messages."""
    out = []

    def wheel(name: str, body: list[tuple[str, bytes, int]], *, record_for=None,
              extra_after_record=(), record_tamper=None, wheel_version="1.0"):
        di = f"{name}-1.0.dist-info"
        meta = Dist(name, "1.0")
        wheel_txt = meta.wheel_file().replace(b"Wheel-Version: 1.0", f"Wheel-Version: {wheel_version}".encode())
        members = body + [(f"{di}/METADATA", meta.metadata(), 0o100644),
                          (f"{di}/WHEEL", wheel_txt, 0o100644)]
        listed = [(p, c, False) for p, c, _ in members if record_for is None or p in record_for(p)]
        record = make_record(listed, f"{di}/RECORD")
        if record_tamper:
            record = record_tamper(record)
        entries = members + [(f"{di}/RECORD", record, 0o100644)] + list(extra_after_record)
        out.append((f"{name}-1.0-py3-none-any.whl", entries))

    init = (b"", 0o100644)
    wheel("traversal", [("traversal/__init__.py", *init),
                        ("../../../../canary/traversal_pwned.txt", b"pwned\n", 0o100644)])
    wheel("abspath", [("abspath/__init__.py", *init),
                      ("/tmp/lavabuild-hostile-canary/abspath_pwned.txt", b"pwned\n", 0o100644)])
    wheel("symlinkesc", [("symlinkesc/__init__.py", *init),
                         ("symlinkesc/escape_link", b"../../../../../canary", 0o120777),
                         ("symlinkesc/escape_link/symlink_pwned.txt", b"pwned\n", 0o100644)])
    good = b"ORIGINAL = True\n"
    wheel("badhash", [("badhash/__init__.py", *init), ("badhash/tampered.py", good, 0o100644)],
          record_tamper=lambda r: r.replace(record_hash(good).encode(), record_hash(b"other\n").encode()))
    wheel("badsize", [("badsize/__init__.py", *init), ("badsize/wrongsize.py", good, 0o100644)],
          record_tamper=lambda r: r.replace(f"{record_hash(good)},{len(good)}".encode(),
                                            f"{record_hash(good)},{len(good) + 7}".encode()))
    wheel("missingrecord", [("missingrecord/__init__.py", *init), ("missingrecord/unlisted.py", good, 0o100644)],
          record_for=lambda p: [] if p.endswith("unlisted.py") else [p])
    wheel("duplicate", [("duplicate/__init__.py", *init), ("duplicate/twice.py", b"A = 1\n", 0o100644)],
          extra_after_record=[("duplicate/twice.py", b"import os; os.system('echo pwned')\n", 0o100644)])
    wheel("futurewheel", [("futurewheel/__init__.py", *init)], wheel_version="2.0")

    # Members that claim a path lavabuild writes itself (issue 6, point 1): they would be
    # linked from the store, and lavabuild's own write would reach the shared stored file.
    def colliding(name, member, extra=()):
        wheel(name, [(f"{name}/__init__.py", *init), (member, b"", 0o100644), *extra])
    colliding("colrecord", "colrecord-1.0.data/purelib/colrecord-1.0.dist-info/RECORD")
    colliding("colinstaller", "colinstaller-1.0.data/platlib/colinstaller-1.0.dist-info/INSTALLER")
    colliding("colstate", "colstate-1.0.data/data/.lavabuild/stamp")
    colliding("colmanifest", "colmanifest-1.0.data/data/.lavabuild/manifest.json")
    colliding("colvenv", "colvenv-1.0.data/data/pyvenv.cfg")
    colliding("colpython", "colpython-1.0.data/scripts/python3")
    colliding("colscript", "colscript-1.0.data/data/bin/colscript-run",
              [("colscript-1.0.dist-info/entry_points.txt",
                b"[console_scripts]\ncolscript-run = colscript:main\n", 0o100644)])
    # A FIFO member is refused like a symlink or a device.
    wheel("fifo", [("fifo/__init__.py", *init), ("fifo/named_pipe", b"", 0o010644)])
    # A member name that is not UTF-8: written with a placeholder, patched in write_corpus.
    wheel("nonutf8", [("nonutf8/__init__.py", *init), ("nonutf8/PLACEHOLDER_ZZ.py", b"", 0o100644)],
          record_for=lambda p: [] if "PLACEHOLDER" in p else [p])

    # Hostile but installable: must install in linear time and bounded memory, then verify.
    def custom_metadata(name, headers: bytes):
        di = f"{name}-1.0.dist-info"
        meta = Dist(name, "1.0")
        members = [(f"{name}/__init__.py", b"", 0o100644),
                   (f"{di}/METADATA", b"Metadata-Version: 2.1\nName: " + name.encode() +
                    b"\nVersion: 1.0\n" + headers + b"\nbody\n", 0o100644),
                   (f"{di}/WHEEL", meta.wheel_file(), 0o100644)]
        record = make_record([(p, c, False) for p, c, _ in members], f"{di}/RECORD")
        out.append((f"{name}-1.0-py3-none-any.whl", members + [(f"{di}/RECORD", record, 0o100644)]))
    custom_metadata("folded", b"Summary: start\n" + b" x\n" * 700_000)  # 2 MB in 700,000 folds
    custom_metadata("manyextras", b"".join(b"Provides-Extra: e%d\nRequires-Dist: absent-%d; extra == 'e%d'\n"
                                           % (i, i, i) for i in range(50_000)))
    custom_metadata("longline", b"Summary: " + b"x" * (8 << 20) + b"\n")
    wheel("pycache", [("pycache/__init__.py", *init),
                      ("pycache/__pycache__/__init__.cpython-311.pyc", b"\x00" * 16, 0o100644),
                      ("pycache/legacy.pyc", b"\x00" * 16, 0o100644)])
    wheel("lib64data", [("lib64data/__init__.py", *init),
                        ("lib64data-1.0.data/data/lib64/lib64data-extra.txt", b"via lib64\n", 0o100644)])
    return out


# Installable cases of the hostile corpus (wheel name -> a file it installs, env-relative glob).
HOSTILE_INSTALLABLE = ("folded", "manyextras", "longline", "pycache", "lib64data")


class Stream:
    """A member too big to hold in memory: `size` bytes of zeros, or of pseudo-random bytes."""
    def __init__(self, size: int, random: bool = False):
        self.size, self.random = size, random

    def chunks(self):
        import random
        rng = random.Random(self.size)
        zeros = bytes(1 << 20)
        left = self.size
        while left:
            take = min(left, 1 << 20)
            yield rng.randbytes(take) if self.random else zeros[:take]
            left -= take


def write_bomb(outdir: str, name: str, sizes: list, random: bool = False) -> None:
    """A wheel whose members are big Streams (zeros compress ~1000:1): a zip bomb, or with
    `random`, big members that only a size limit refuses."""
    di = f"{name}-1.0.dist-info"
    meta = Dist(name, "1.0")
    small = [(f"{name}/__init__.py", b""), (f"{di}/METADATA", meta.metadata()),
             (f"{di}/WHEEL", meta.wheel_file())]
    big = [(f"{name}/member{i}.bin", Stream(n, random)) for i, n in enumerate(sizes)]
    rows = []
    for path, c in big:
        h = hashlib.sha256()
        for chunk in c.chunks():
            h.update(chunk)
        digest = base64.urlsafe_b64encode(h.digest()).rstrip(b"=").decode()
        rows.append((path, "sha256=" + digest, c.size))
    rows += [(p, record_hash(c), len(c)) for p, c in small]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for r in rows:
        w.writerow(r)
    w.writerow([f"{di}/RECORD", "", ""])
    with zipfile.ZipFile(os.path.join(outdir, f"{name}-1.0-py3-none-any.whl"), "w") as zf:
        for path, c in big:
            with zf.open(zip_info(path, 0o100644), "w", force_zip64=True) as f:
                for chunk in c.chunks():
                    f.write(chunk)
        for path, c in small:
            zf.writestr(zip_info(path, 0o100644), c)
        zf.writestr(zip_info(f"{di}/RECORD", 0o100644), buf.getvalue().encode())


def write_hostile_bombs(outdir: str) -> None:
    write_bomb(outdir, "bomb", [1 << 30])                        # 1 GiB of zeros in ~1 MB
    write_bomb(outdir, "bombfour", [256 << 20] * 4)              # 4 x 256 MiB of zeros
    write_bomb(outdir, "bigmember", [2 << 20], random=True)      # with LAVABUILD_MAX_MEMBER_SIZE=1M
    write_bomb(outdir, "bigwheel", [1 << 20] * 4, random=True)   # with LAVABUILD_MAX_WHEEL_SIZE=3M


# Shaped like a Django web service's pinned dependency set:
# (name, python files, data files, data bytes, native, requires)
BENCH_SHAPE = [
    ("django", 880, 120, 9_000_000, False, ["asgiref>=3.6", "sqlparse>=0.3.1"]),
    ("asgiref", 20, 0, 0, False, ["typing-extensions>=4"]),
    ("sqlparse", 45, 0, 0, False, []),
    ("djangorestframework", 150, 110, 2_500_000, False, ["django>=3.0"]),
    ("django-filter", 40, 60, 600_000, False, ["django>=3.2"]),
    ("django-cors-headers", 12, 0, 0, False, ["django>=3.2"]),
    ("django-extensions", 170, 30, 400_000, False, ["django>=3.2"]),
    ("django-environ", 15, 0, 0, False, []),
    ("django-storages", 30, 0, 0, False, ["django>=3.2"]),
    ("psycopg2-binary", 25, 8, 6_000_000, True, []),
    ("pillow", 90, 20, 8_000_000, True, []),
    ("celery", 260, 20, 500_000, False, ["kombu>=5.3", "billiard>=4.1", "vine>=5.0", "click>=8.1",
                                         "python-dateutil>=2.8", "tzdata>=2022.7"]),
    ("kombu", 110, 0, 0, False, ["amqp>=5.1", "vine"]),
    ("billiard", 45, 0, 0, False, []),
    ("vine", 12, 0, 0, False, []),
    ("amqp", 25, 0, 0, False, ["vine>=5.0"]),
    ("redis", 120, 0, 0, False, []),
    ("gunicorn", 60, 0, 0, False, ["packaging"]),
    ("whitenoise", 14, 0, 0, False, []),
    ("requests", 20, 0, 0, False, ["charset-normalizer>=2", "idna>=2.5", "urllib3>=1.21.1", "certifi>=2017.4.17"]),
    ("urllib3", 40, 0, 0, False, []),
    ("idna", 10, 0, 0, False, []),
    ("charset-normalizer", 20, 2, 600_000, True, []),
    ("certifi", 4, 1, 300_000, False, []),
    ("pytz", 8, 590, 2_500_000, False, []),
    ("tzdata", 10, 590, 2_000_000, False, []),
    ("python-dateutil", 25, 1, 200_000, False, ["six>=1.5"]),
    ("six", 1, 0, 0, False, []),
    ("jinja2", 30, 0, 0, False, ["markupsafe>=2.0"]),
    ("markupsafe", 8, 0, 0, True, []),
    ("pyyaml", 20, 0, 0, True, []),
    ("cryptography", 130, 10, 14_000_000, True, ["cffi>=1.12"]),
    ("cffi", 30, 0, 0, True, ["pycparser"]),
    ("pycparser", 45, 0, 0, False, []),
    ("lxml", 90, 60, 9_000_000, True, []),
    ("botocore", 300, 700, 14_000_000, False, ["jmespath>=0.7.1", "urllib3>=1.25.4", "python-dateutil>=2.1"]),
    ("boto3", 60, 20, 200_000, False, ["botocore>=1.31", "jmespath>=0.7.1", "s3transfer>=0.6"]),
    ("jmespath", 10, 0, 0, False, []),
    ("s3transfer", 25, 0, 0, False, ["botocore>=1.12"]),
    ("sentry-sdk", 170, 0, 0, False, ["urllib3>=1.26", "certifi"]),
    ("click", 20, 0, 0, False, []),
    ("typing-extensions", 1, 0, 0, False, []),
    ("packaging", 18, 0, 0, False, []),
]

_WORDS = ("request response queryset model field value handler cache session token user "
          "backend settings middleware template render context signal serializer view").split()


def fake_python(rng: random.Random, target: int) -> bytes:
    out, n = [], 0
    while n < target:
        a, b = rng.choice(_WORDS), rng.choice(_WORDS)
        chunk = (f"\n\ndef {a}_{b}_{rng.randrange(10**6)}(self, {b}=None):\n"
                 f"    \"\"\"Return the {a} for {b}.\"\"\"\n"
                 f"    if {b} is None:\n        {b} = self.{a}\n    return {{'{a}': {b}, 'n': {rng.randrange(1000)}}}\n")
        out.append(chunk)
        n += len(chunk)
    return "".join(out).encode()


def corpus_bench(native_tag: str) -> tuple[list[Dist], str]:
    rng = random.Random(20240601)
    dists, pins = [], []
    versions = {name: f"{1 + i % 5}.{i % 7}.{i % 3}" for i, (name, *_) in enumerate(BENCH_SHAPE)}
    for i, (name, n_py, n_data, data_bytes, native, shape_requires) in enumerate(BENCH_SHAPE):
        version = versions[name]
        # keep the shape's names, but make the lower bounds satisfiable by the generated versions
        requires = []
        for r in shape_requires:
            dep = re.split(r"[<>=!~ ]", r)[0]
            requires.append(f"{dep}>={versions[dep].split('.')[0]}.0")
        pkg = escape(name)
        files = {}
        for k in range(n_py):
            sub = f"sub{k % 12}/" if k >= 12 else ""
            files[f"{pkg}/{sub}m{k}.py"] = fake_python(rng, rng.choice((600, 2000, 5000, 9000)))
        for s in {f"{pkg}/sub{k % 12}/" for k in range(12, n_py)}:
            files[s + "__init__.py"] = b""
        files[f"{pkg}/__init__.py"] = py_module(pkg, version)
        for k in range(n_data):
            files[f"{pkg}/data/d{k // 50}/f{k}.bin"] = rng.randbytes(max(1, data_bytes // max(1, n_data)))
        dist = Dist(name, version, files=files, requires=requires)
        if native:
            nf = native_package(pkg, 100 + i)
            files[f"{pkg}/_native.so"] = nf[f"{pkg}/_native.so"]
            files[f"{pkg}/_native_init.py"] = nf[f"{pkg}/__init__.py"]
            dist.purelib, dist.tag = False, native_tag
        if name in ("django", "celery", "gunicorn", "sentry-sdk"):
            dist.console_scripts = {f"{name}-admin": f"{pkg}:hello"}
        dists.append(dist)
        pins.append(f"{name}=={version}")
    return dists, "\n".join(pins) + "\n"


RESOLVER_SPECS = ["", "", ">=1.0", "<2", "==1.*", "!=1.1", "~=1.0", ">=1.1,<3", ">=2.0", ">0.9", "<=1.2"]
RESOLVER_VERSIONS = ["0.9", "1.0", "1.1", "1.2", "2.0", "2.1", "3.0rc1"]


def corpus_resolver(seed: int) -> tuple[list[Dist], str]:
    """Random metadata-only wheels (a DAG of tens of packages with several versions, random
    specifiers, extras and markers) and root requirements. Same seed, same corpus."""
    rng = random.Random(seed)
    n = rng.randint(8, 16)
    names = [f"r{i}-{rng.choice(_WORDS)}" for i in range(n)]
    has_extra = [rng.random() < 0.3 for _ in range(n)]

    def dep(lo: int) -> str:
        j = rng.randrange(lo, n)
        extra = "[x]" if has_extra[j] and rng.random() < 0.4 else ""
        spec = rng.choice(RESOLVER_SPECS)
        roll = rng.random()
        marker = ' ; python_version >= "3.6"' if roll < 0.1 else ""
        return f"{names[j]}{extra}{spec}{marker}"

    dists = []
    for i, name in enumerate(names):
        for v in sorted(rng.sample(RESOLVER_VERSIONS, rng.randint(1, 4)), key=RESOLVER_VERSIONS.index):
            reqs = [dep(i + 1) for _ in range(rng.randint(0, 2))] if i + 1 < n else []
            if rng.random() < 0.15:
                reqs.append(f'ghost-{i}>=1 ; python_version < "3"')
            extras = []
            if has_extra[i] and i + 1 < n:
                extras = ["x"]
                reqs.append(f'{dep(i + 1).split(" ;")[0]} ; extra == "x"')
            rp = ">=4" if rng.random() < 0.05 else (">=3.6" if rng.random() < 0.3 else "")
            dists.append(Dist(name, v, requires=reqs, extras=extras, requires_python=rp, metadata_only=True))
    roots = [f"{names[j]}{rng.choice(RESOLVER_SPECS)}" for j in sorted(rng.sample(range(min(4, n)), rng.randint(1, 3)))]
    return dists, "\n".join(roots) + "\n"


# ---------------------------------------------------------------- index
def read_meta_from_file(path: str) -> tuple[str, str, bytes]:
    """(name, version, METADATA bytes) of a wheel or sdist."""
    fn = os.path.basename(path)
    if fn.endswith(".whl"):
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
            meta = zf.read(names[0]) if names else b""
        parts = fn[:-4].split("-")
        return parts[0], parts[1], meta
    if fn.endswith(".tar.gz"):
        base = fn[: -len(".tar.gz")]
        name, _, version = base.rpartition("-")
        with tarfile.open(path) as tf:
            m = tf.extractfile(f"{base}/PKG-INFO")
            meta = m.read() if m else b""
        return name, version, meta
    raise ValueError(f"not a distribution: {path}")


def requires_python_of(meta: bytes) -> str:
    for line in meta.decode("utf-8", "replace").splitlines():
        if not line.strip():
            break
        if line.lower().startswith("requires-python:"):
            return line.split(":", 1)[1].strip()
    return ""


def write_index(root: str, yanked: dict[str, str] | None = None) -> None:
    """PEP 503 (+658, 592) index: root/simple/... linking to root/files/*."""
    files_dir = os.path.join(root, "files")
    yanked = dict(yanked or {})
    yfile = os.path.join(files_dir, "yanked.txt")
    if os.path.exists(yfile):
        with open(yfile) as f:
            for line in f:
                if line.strip():
                    fn, _, reason = line.strip().partition(" ")
                    yanked.setdefault(fn, reason)
    projects: dict[str, list[str]] = {}
    for fn in sorted(os.listdir(files_dir)):
        if not (fn.endswith(".whl") or fn.endswith(".tar.gz")):
            continue
        path = os.path.join(files_dir, fn)
        name, _, meta = read_meta_from_file(path)
        with open(path, "rb") as f:
            digest = sha256_hex(f.read())
        attrs = [f'href="../../files/{fn}#sha256={digest}"']
        rp = requires_python_of(meta)
        if rp:
            attrs.append(f'data-requires-python="{html.escape(rp, quote=True)}"')
        if fn.endswith(".whl") and meta:
            with open(path + ".metadata", "wb") as f:
                f.write(meta)
            attrs.append(f'data-core-metadata="sha256={sha256_hex(meta)}"')
            attrs.append(f'data-dist-info-metadata="sha256={sha256_hex(meta)}"')
        if fn in yanked:
            attrs.append(f'data-yanked="{html.escape(yanked[fn], quote=True)}"')
        projects.setdefault(normalize(name), []).append(f'    <a {" ".join(attrs)}>{fn}</a><br/>')
    simple = os.path.join(root, "simple")
    os.makedirs(simple, exist_ok=True)
    head = '<!DOCTYPE html>\n<html>\n  <head><meta name="pypi:repository-version" content="1.0">' \
           '<title>{}</title></head>\n  <body>\n'
    with open(os.path.join(simple, "index.html"), "w") as f:
        f.write(head.format("Simple index"))
        for p in sorted(projects):
            f.write(f'    <a href="{p}/">{p}</a><br/>\n')
        f.write("  </body>\n</html>\n")
    for p, links in projects.items():
        os.makedirs(os.path.join(simple, p), exist_ok=True)
        with open(os.path.join(simple, p, "index.html"), "w") as f:
            f.write(head.format(f"Links for {p}") + "\n".join(links) + "\n  </body>\n</html>\n")


# ---------------------------------------------------------------- sources (issue 8)
DEBIAN_WHEELS = "/usr/share/python-wheels"


def setuptools_project(name: str, version: str, modules: dict[str, bytes], *, requires=(),
                       scripts: dict[str, str] | None = None, ext: dict[str, bytes] | None = None,
                       pyproject: bool = True) -> dict[str, bytes]:
    """The files of a setuptools project: pyproject.toml ([project] table) or a setup.py alone
    (the legacy backend), `modules` under the project root, optional C extensions
    (ext = {"pkg/_speed.c": source}: built as pkg._speed)."""
    files = dict(modules)
    if pyproject:
        deps = ", ".join(f'"{r}"' for r in requires)
        text = ("[build-system]\nrequires = [\"setuptools>=40.8.0\"]\n"
                "build-backend = \"setuptools.build_meta\"\n\n"
                f"[project]\nname = \"{name}\"\nversion = \"{version}\"\ndependencies = [{deps}]\n")
        if scripts:
            text += "\n[project.scripts]\n" + "".join(f'{k} = "{v}"\n' for k, v in scripts.items())
        pkgs = sorted({m.split("/")[0] for m in modules if m.endswith(".py") and "/" in m})
        text += "\n[tool.setuptools]\npackages = [" + ", ".join(f'"{p}"' for p in pkgs) + "]\n"
        files["pyproject.toml"] = text.encode()
    if ext or not pyproject:
        exts = "".join(
            f"Extension({p[:-2].replace('/', '.')!r}, [{p!r}]), " for p in sorted(ext or {}))
        pkgs = sorted({m.split("/")[0] for m in modules if m.endswith(".py") and "/" in m})
        setup = ("from setuptools import setup, Extension\n\nsetup(\n"
                 + ("" if pyproject else f"    name={name!r}, version={version!r},\n"
                    f"    packages={pkgs!r}, install_requires={list(requires)!r},\n")
                 + f"    ext_modules=[{exts}],\n)\n")
        files["setup.py"] = setup.encode()
        files.update(ext or {})
    return files


SPEED_C = b"""#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *answer(PyObject *self, PyObject *args) { return PyLong_FromLong(ANSWER); }
static PyMethodDef methods[] = {{"answer", answer, METH_NOARGS, "the answer"}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "_speed", NULL, -1, methods};
PyMODINIT_FUNC PyInit__speed(void) { return PyModule_Create(&mod); }
"""


BUILD_HOOK_BACKEND = '''\
"""An in-tree PEP 517 backend (lavabuild fixture): packs the project's package into a wheel.
before_build(config_settings) may return more files for the wheel."""
import base64, hashlib, os, zipfile

NAME, VERSION = {name!r}, {version!r}
DI = f"{{NAME}}-{{VERSION}}.dist-info"
{before_build}

def get_requires_for_build_wheel(config_settings=None):
    return []


def _h(b):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(b).digest()).rstrip(b"=").decode()


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    files = []
    for dp, dns, fns in os.walk(NAME):
        dns[:] = sorted(d for d in dns if d != "__pycache__")
        for fn in sorted(fns):
            p = os.path.join(dp, fn)
            with open(p, "rb") as f:
                files.append((p.replace(os.sep, "/"), f.read()))
    files += sorted(before_build(config_settings).items())
    files.append((DI + "/METADATA", f"Metadata-Version: 2.1\\nName: {{NAME}}\\nVersion: {{VERSION}}\\n\\n".encode()))
    files.append((DI + "/WHEEL", b"Wheel-Version: 1.0\\nGenerator: in-tree\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"))
    record = "".join(f"{{p}},{{_h(b)}},{{len(b)}}\\n" for p, b in files) + DI + "/RECORD,,\\n"
    name = f"{{NAME}}-{{VERSION}}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w", zipfile.ZIP_DEFLATED) as z:
        for p, b in files + [(DI + "/RECORD", record.encode())]:
            zi = zipfile.ZipInfo(p, (2020, 1, 1, 0, 0, 0))
            zi.external_attr = 0o100644 << 16
            z.writestr(zi, b, zipfile.ZIP_DEFLATED)
    return name
'''


def in_tree_project(name: str, version: str, modules: dict[str, bytes], before_build: str) -> dict[str, bytes]:
    """A project built by its own backend (`backend-path = ["."]`, no build requirements).
    `name` is a module name (the package directory); `before_build` defines
    before_build(config_settings) -> {wheel path: bytes}, run at the start of build_wheel."""
    files = dict(modules)
    files["pyproject.toml"] = ("[build-system]\nrequires = []\nbuild-backend = \"lb_backend\"\n"
                               "backend-path = [\".\"]\n").encode()
    files["lb_backend.py"] = BUILD_HOOK_BACKEND.format(name=name, version=version,
                                                       before_build=before_build).encode()
    return files


# before_build of `settings`: the config_settings the backend got become settings/_config.py.
SETTINGS_BEFORE_BUILD = '''
def before_build(config_settings):
    return {"settings/_config.py": ("CONFIG = %r\\n" % (dict(sorted((config_settings or {}).items())),)).encode()}
'''
# before_build of `slowbuild`: runs `sleep $(cat sleep-seconds)` (the tests write a unique
# number there to find the process) and never finishes in time.
SLOW_BEFORE_BUILD = '''
def before_build(config_settings):
    import subprocess
    with open("sleep-seconds") as f:
        subprocess.call(["sleep", f.read().strip()])
    return {}
'''


def source_projects() -> dict[str, dict[str, bytes]]:
    """Project trees (directory name -> files) for the source-build tests."""
    hot_views = b'def render():\n    return "hotapp views v1"\n'
    return {
        "hotapp": setuptools_project(
            "hotapp", "1.0",
            {"hotapp/__init__.py": b'__version__ = "1.0"\n', "hotapp/views.py": hot_views,
             "hotapp/cli.py": b"def main():\n    from hotapp.views import render\n    print(render())\n"},
            requires=["webutil>=1.0"], scripts={"hotapp": "hotapp.cli:main"}),
        "cext": setuptools_project(
            "cext", "1.0", {"cext/__init__.py": b"from cext._speed import answer\n"},
            ext={"cext/_speed.c": SPEED_C.replace(b"ANSWER", b"42")}),
        "legacy": setuptools_project(
            "legacy", "2.0", {"legacy/__init__.py": b'WHO = "legacy setup.py"\n'}, pyproject=False),
        # a C extension that includes a header no system has
        "noheader": setuptools_project(
            "noheader", "1.0", {"noheader/__init__.py": b""},
            ext={"noheader/_speed.c": b"#include <lavabuild_missing_header.h>\n" + SPEED_C.replace(b"ANSWER", b"1")}),
        # in-tree backends: one that records its config_settings, one that hangs
        "settings": in_tree_project("settings", "1.0", {"settings/__init__.py": b"from settings._config import CONFIG\n"},
                                    SETTINGS_BEFORE_BUILD),
        "slowbuild": dict(in_tree_project("slowbuild", "1.0", {"slowbuild/__init__.py": b""}, SLOW_BEFORE_BUILD),
                          **{"sleep-seconds": b"60\n"}),
        # a project for VCS repositories (git, bzr): the tests commit it and change it
        "vcsapp": setuptools_project(
            "vcsapp", "1.0", {"vcsapp/__init__.py": b'WHO = "vcsapp r1"\n'}),
    }


def write_tree(root: str, files: dict[str, bytes]) -> None:
    for rel, data in sorted(files.items()):
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)


def tar_gz_tree(out: str, base: str, files: dict[str, bytes]) -> str:
    """A reproducible .tar.gz of `files` under `base/`."""
    raw = io.BytesIO()
    with gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.USTAR_FORMAT) as tf:
            for p in sorted(files):
                _tar_add(tf, f"{base}/{p}", files[p])
    with open(out, "wb") as f:
        f.write(raw.getvalue())
    return out


def pkg_info(name: str, version: str, requires=(), metadata_version="2.1", dynamic=()) -> bytes:
    lines = [f"Metadata-Version: {metadata_version}", f"Name: {name}", f"Version: {version}"]
    lines += [f"Dynamic: {d}" for d in dynamic]
    lines += [f"Requires-Dist: {r}" for r in requires]
    return ("\n".join(lines) + "\n\n").encode()


def write_sources(out: str) -> None:
    """Files for an index of build backends and sdists, and project trees under out/../projects.
    The backends are Debian's setuptools and wheel wheels (built for Debian's python3)."""
    import shutil
    for fn in sorted(os.listdir(DEBIAN_WHEELS)):
        if fn.startswith(("setuptools-", "wheel-")):
            shutil.copy(os.path.join(DEBIAN_WHEELS, fn), os.path.join(out, fn))
    for d in corpus_webapp():  # webutil etc. as dependencies of the projects
        build_wheel(d, out)
    projects = source_projects()
    # sdists: setuptools ones (PKG-INFO 2.1: dependencies need a build) and a PEP 643 one
    # whose Requires-Dist is static (read without running anything).
    srcpure = setuptools_project("srcpure", "1.0", {"srcpure/__init__.py": b'WHO = "srcpure"\n'},
                                 requires=["webutil>=1.0"])
    srcpure["PKG-INFO"] = pkg_info("srcpure", "1.0", ["webutil>=1.0"])
    tar_gz_tree(os.path.join(out, "srcpure-1.0.tar.gz"), "srcpure-1.0", srcpure)
    cext = dict(projects["cext"])
    cext["PKG-INFO"] = pkg_info("cext", "1.0")
    tar_gz_tree(os.path.join(out, "cext-1.0.tar.gz"), "cext-1.0", cext)
    static = Dist("srcstatic", "1.0", files={"srcstatic/__init__.py": b'WHO = "static"\n'},
                  requires=["greeting>=1.0"])
    path = build_sdist(static, out)
    # Metadata-Version 2.2 without Dynamic: the resolver may trust Requires-Dist (PEP 643).
    with tarfile.open(path) as tf:
        members = {m.name.split("/", 1)[1]: tf.extractfile(m).read() for m in tf.getmembers() if m.isfile()}
    members["PKG-INFO"] = pkg_info("srcstatic", "1.0", ["greeting>=1.0"], metadata_version="2.2")
    tar_gz_tree(path, "srcstatic-1.0", members)
    proj_root = os.path.join(os.path.dirname(os.path.abspath(out)), "projects")
    for name, files in projects.items():
        write_tree(os.path.join(proj_root, name), files)


# ---------------------------------------------------------------- main
def write_corpus(corpus: str, out: str, native_tag: str) -> None:
    os.makedirs(out, exist_ok=True)
    if corpus == "basic":
        wheels, sdists = corpus_basic(native_tag)
        for d in wheels:
            build_wheel(d, out)
        for d in sdists:
            build_sdist(d, out)
        with open(os.path.join(out, "requirements.txt"), "w") as f:
            f.write(BASIC_REQUIREMENTS)
    elif corpus == "versions":
        wheels, yanked = corpus_versions()
        for d in wheels:
            build_wheel(d, out)
        with open(os.path.join(out, "yanked.txt"), "w") as f:
            f.writelines(f"{k} {v}\n" for k, v in sorted(yanked.items()))
    elif corpus == "hostile":
        for fn, entries in corpus_hostile():
            write_zip(os.path.join(out, fn), entries)
        # Raw bytes zipfile cannot write: a member name that is not UTF-8 (same length).
        path = os.path.join(out, "nonutf8-1.0-py3-none-any.whl")
        with open(path, "rb") as f:
            data = f.read()
        assert data.count(b"PLACEHOLDER_ZZ") == 2  # local header + central directory
        with open(path, "wb") as f:
            bad = b"bad\xff\xfe_name_zzz"
            assert len(bad) == len(b"PLACEHOLDER_ZZ")
            f.write(data.replace(b"PLACEHOLDER_ZZ", bad))
        write_hostile_bombs(out)
    elif corpus == "bench":
        dists, reqs = corpus_bench(native_tag)
        for d in dists:
            build_wheel(d, out)
        with open(os.path.join(out, "requirements.txt"), "w") as f:
            f.write(reqs)
    elif corpus.startswith("resolver-"):
        dists, reqs = corpus_resolver(int(corpus.split("-", 1)[1]))
        for d in dists:
            build_wheel(d, out)
        with open(os.path.join(out, "requirements.txt"), "w") as f:
            f.write(reqs)
    elif corpus == "webapp":
        for d in corpus_webapp():
            build_wheel(d, out)
    elif corpus == "instances":
        for d in corpus_instances():
            build_wheel(d, out)
    elif corpus == "sources":
        write_sources(out)
    else:
        raise SystemExit(f"make_fixtures: unknown corpus {corpus!r} (basic, bench, hostile, instances, sources, versions, webapp, resolver-SEED)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus", nargs="?", help="basic | bench | hostile | instances | sources | versions | webapp | resolver-SEED")
    ap.add_argument("--out", help="directory to write the corpus's files into")
    ap.add_argument("--index", metavar="ROOT", help="write ROOT/simple for the files in ROOT/files")
    ap.add_argument("--yanked", metavar="FILE", help='lines "filename reason" to mark data-yanked')
    ap.add_argument("--native-tag", default=DEFAULT_NATIVE_TAG,
                    help=f"tag of native wheels (default {DEFAULT_NATIVE_TAG}; e.g. py3-none-linux_x86_64)")
    args = ap.parse_args(argv)
    if not args.corpus and not args.index:
        ap.error("give a CORPUS with --out, and/or --index ROOT")
    if args.corpus:
        if not args.out:
            ap.error("--out DIR is required with a corpus")
        write_corpus(args.corpus, args.out, args.native_tag)
    if args.index:
        yanked = {}
        if args.yanked:
            with open(args.yanked) as f:
                for line in f:
                    fn, _, reason = line.strip().partition(" ")
                    if fn:
                        yanked[fn] = reason
        write_index(args.index, yanked)
    return 0


if __name__ == "__main__":
    sys.exit(main())
