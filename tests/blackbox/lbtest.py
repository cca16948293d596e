"""Helpers shared by the black-box tests (imported by conftest and tests)."""
from __future__ import annotations

import glob
import hashlib
import json
import os
import pwd
import re
import shlex
import signal
import stat
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TOOLS = REPO / "tools"
PY_WHEELS = Path("/usr/share/python-wheels")

# subcommands that take --python / --cache-dir
_NEEDS_PYTHON = {"env", "plan", "lock"}
_NEEDS_CACHE = {"env", "plan", "lock", "cache"}


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def missing_prerequisite(message: str):
    """A test that cannot run says so: a skip on a developer's machine, a failure in CI."""
    import pytest
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"missing prerequisite (a failure in CI): {message}")
    pytest.skip(message)


def clean_environ(base: dict | None = None) -> dict:
    """Environment for child processes: no proxies, nothing reaches beyond 127.0.0.1."""
    env = dict(os.environ if base is None else base)
    for k in list(env):
        if k.lower() in ("http_proxy", "https_proxy", "all_proxy", "ftp_proxy") or k.startswith("PIP_") \
                or k.startswith("LAVABUILD_"):
            del env[k]
    env["no_proxy"] = env["NO_PROXY"] = "127.0.0.1,localhost"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


@dataclass
class Run:
    args: list
    returncode: int
    stdout: str
    stderr: str
    maxrss_kib: int = 0  # peak resident set size of the child (wait4), KiB

    def describe(self) -> str:
        return (f"$ {shlex.join(map(str, self.args))}\nexit {self.returncode}\n"
                f"--- stdout ---\n{self.stdout[-4000:]}\n--- stderr ---\n{self.stderr[-4000:]}")

    def ok(self) -> "Run":
        assert self.returncode == 0, self.describe()
        return self

    def fails(self, code: int = 1) -> "Run":
        assert self.returncode == code, f"expected exit {code}\n" + self.describe()
        return self

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def json(self):
        try:
            return json.loads(self.stdout)
        except ValueError as e:
            raise AssertionError(f"stdout is not one JSON object ({e})\n" + self.describe()) from None


def run(args, env=None, cwd=None, timeout=600, input=None, pipe_grace=None) -> Run:
    """Run a command to completion and record its peak RSS (os.wait4: this child only).
    With `pipe_grace` (seconds), a command that exits while a process it started still holds
    its stdout or stderr (a daemon that did not detach) fails instead of blocking the test."""
    argv = [str(a) for a in args]
    p = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    chunks = {"out": b"", "err": b""}

    def drain(stream, key):
        chunks[key] = stream.read()

    readers = [threading.Thread(target=drain, args=(p.stdout, "out")),
               threading.Thread(target=drain, args=(p.stderr, "err"))]
    for t in readers:
        t.start()
    if input is not None:
        try:
            p.stdin.write(input.encode() if isinstance(input, str) else input)
        except BrokenPipeError:
            pass
        p.stdin.close()
    expired = threading.Event()

    def kill():
        expired.set()
        p.kill()

    timer = threading.Timer(timeout, kill)
    timer.start()
    try:
        _, status, usage = os.wait4(p.pid, 0)
    finally:
        timer.cancel()
    p.returncode = os.waitstatus_to_exitcode(status)
    for t in readers:
        t.join(pipe_grace)
    if any(t.is_alive() for t in readers):
        raise AssertionError(f"$ {shlex.join(argv)} exited {p.returncode}, but its stdout or stderr was "
                             f"still open {pipe_grace} s later: a process it started kept them")
    p.stdout.close()
    p.stderr.close()
    if expired.is_set():
        raise subprocess.TimeoutExpired(argv, timeout)
    dec = lambda b: b.decode("utf-8", "replace")  # noqa: E731
    return Run(argv, p.returncode, dec(chunks["out"]), dec(chunks["err"]), usage.ru_maxrss)


class Lavabuild:
    """The binary under test with per-test cache dir and target interpreter."""

    def __init__(self, binary: str, python: str, cache_dir: Path, environ: dict):
        self.binary, self.python, self.cache_dir = binary, python, cache_dir
        self.environ = dict(environ)
        self.environ["LAVABUILD_CACHE_DIR"] = str(cache_dir)

    def argv(self, *args, cache_dir=None) -> list:
        args = [str(a) for a in args]
        cmd = args[0] if args else ""
        extra = []
        if cmd in _NEEDS_PYTHON and "--python" not in args:
            extra += ["--python", self.python]
        if cmd in _NEEDS_CACHE and "--cache-dir" not in args:
            extra += ["--cache-dir", str(cache_dir or self.cache_dir)]
        return [self.binary, *args, *extra]

    def run(self, *args, cache_dir=None, cwd=None, timeout=600, env=None, pipe_grace=None) -> Run:
        e = dict(self.environ)
        if cache_dir:
            e["LAVABUILD_CACHE_DIR"] = str(cache_dir)
        e.update(env or {})
        return run(self.argv(*args, cache_dir=cache_dir), env=e, cwd=cwd, timeout=timeout,
                   pipe_grace=pipe_grace)

    def popen(self, *args, cache_dir=None) -> subprocess.Popen:
        return subprocess.Popen(self.argv(*args, cache_dir=cache_dir), env=self.environ,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def env_json(self, *args, **kw) -> dict:
        """`lavabuild env ARGS --json`, asserting success; returns the JSON report."""
        r = self.run("env", *args, "--json", **kw).ok()
        data = r.json()
        assert isinstance(data, dict), r.describe()
        return data


def pip_wheel() -> str:
    found = sorted(glob.glob(str(PY_WHEELS / "pip-*.whl")))
    assert found, f"no pip wheel in {PY_WHEELS}: apt-get install python3-pip-whl"
    return found[-1]


def pip(python: str, *args, environ=None, timeout=600) -> Run:
    """Run pip from Debian's pip wheel with `python` (so the target venv needs no pip)."""
    return run([python, os.path.join(pip_wheel(), "pip"), *args], env=environ, timeout=timeout)


def make_venv(python: str, path: Path, environ=None) -> None:
    run([python, "-m", "venv", "--without-pip", path], env=environ).ok()


def site_packages(env_dir: Path) -> Path:
    found = sorted(Path(env_dir).glob("lib/python3*/site-packages"))
    assert found, f"no lib/python3*/site-packages in {env_dir}"
    return found[0]


def file_sha(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def snapshot(root: Path, skip=()) -> dict:
    """relpath -> (kind, mode, size, sha256/link target, inode) for everything under root."""
    out = {}
    root = Path(root)
    for dp, dns, fns in os.walk(root):
        rel_dir = os.path.relpath(dp, root)
        dns[:] = [d for d in dns if os.path.normpath(os.path.join(rel_dir, d)) not in skip]
        for name in dns + fns:
            p = Path(dp) / name
            rel = os.path.normpath(os.path.join(rel_dir, name))
            if rel in skip:
                continue
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", 0, 0, os.readlink(p), st.st_ino)
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st.st_mode), 0, "", st.st_ino)
            else:
                out[rel] = ("file", stat.S_IMODE(st.st_mode), st.st_size, file_sha(p), st.st_ino)
    return out


def executed_by_package(report: dict) -> dict:
    """normalized package -> set of executed step kinds."""
    out: dict = {}
    for e in report.get("executed", []):
        out.setdefault(normalize(e.get("package", "")), set()).add(e["kind"])
    return out


def write(path: Path, text: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# filled by test_resolver_diff, printed by conftest's terminal summary
RESOLVER_STATS: dict = {}
# "lines" filled by test_instances (measured unavailability), printed by the terminal summary
INSTANCE_STATS: dict = {}


def http_get(url: str, timeout: float = 2.0) -> tuple[int, str]:
    """GET without proxies: (status, body) for any HTTP answer, 4xx and 5xx included. Raises
    OSError when nothing answers, the connection breaks or the answer is not HTTP."""
    import http.client
    import urllib.error
    import urllib.request
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except http.client.HTTPException as e:  # a broken answer (IncompleteRead, BadStatusLine)
        raise OSError(f"{url}: {e!r}") from e


def wait_for_http(url: str, body: str | None = None, timeout: float = 15.0) -> tuple[int, str]:
    """Poll `url` until it answers (with exactly `body`, when given); (status, body)."""
    import time
    deadline = time.monotonic() + timeout
    last = "nothing yet"
    while True:
        try:
            got = http_get(url)
            if body is None or got[1] == body:
                return got
            last = f"HTTP {got[0]} {got[1]!r}"
        except OSError as e:
            last = repr(e)
        if time.monotonic() > deadline:
            raise AssertionError(f"{url}: no answer {body!r} within {timeout} s (last: {last})")
        time.sleep(0.05)


def incompressible_wheel(out_dir: Path, name: str, size: int, seed: int) -> Path:
    """`name`-1.0: a module and `size` random bytes (as large on the wire as on disk), built
    into `out_dir` by tools/make_fixtures.py (slow and cut-download servers serve it)."""
    import random
    import sys
    sys.path.insert(0, str(TOOLS))
    import make_fixtures
    rng = random.Random(seed)
    d = make_fixtures.Dist(name, "1.0", files={
        f"{name}/__init__.py": b"ANSWER = 42\n",
        f"{name}/blob.bin": bytes(rng.getrandbits(8) for _ in range(size))})
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    return Path(make_fixtures.build_wheel(d, str(out_dir)))


# ---------------------------------------------------------------- instances (test_instance*.py)
def toml_str(s: str) -> str:
    return json.dumps(s)  # a JSON string is a TOML basic string


def recipe_text(processes=None, environment=None, hooks=None) -> str:
    out = []
    for table, items in (("processes", processes), ("environment", environment), ("hooks", hooks)):
        if items:
            out.append(f"[{table}]")
            out += [f"{toml_str(k)} = {toml_str(v)}" for k, v in items.items()]
            out.append("")
    return "\n".join(out)


def parse_environment_file(text: str) -> dict:
    """etc/environment as systemd reads it: KEY="VALUE" lines with backslash escapes."""
    out = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = re.fullmatch(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"', line)
        assert m, f"etc/environment: not KEY=\"VALUE\": {line!r}\n{text}"
        out[m.group(1)] = re.sub(r"\\(.)", r"\1", m.group(2))
    return out


def ensure_system_user(name: str) -> pwd.struct_passwd:
    """The system user `name`, made (useradd --system, with its own group) when missing."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    r = subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", name], capture_output=True, text=True)
    assert r.returncode in (0, 9), f"useradd {name} failed ({r.returncode}): {r.stderr}"  # 9: made meanwhile
    return pwd.getpwnam(name)


def alive(pid: int) -> bool:
    """pid is a live process (not a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def processes_under(root: Path) -> dict:
    """pid -> command line of every live process whose command line, environment or working
    directory names `root` (the supervisor, the processes, their children)."""
    key = str(root)
    out = {}
    for p in Path("/proc").iterdir():
        if not p.name.isdigit() or int(p.name) == os.getpid() or not alive(int(p.name)):
            continue
        try:
            cmdline = (p / "cmdline").read_bytes()
            found = key.encode() in cmdline or key.encode() in (p / "environ").read_bytes() \
                or os.readlink(p / "cwd").startswith(key)
        except OSError:
            continue
        if found:
            out[int(p.name)] = cmdline.replace(b"\0", b" ").decode("utf-8", "replace").strip()
    return out


def until(what: str, probe, timeout: float, interval: float = 0.1):
    """Call probe() until it returns something true; that value, or fail naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        got = probe()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(interval)


def serving(port, version, timeout=15.0):
    """Wait until GET / answers `webserve VERSION` (processes are started, not yet listening)."""
    status, body = wait_for_http(f"http://127.0.0.1:{port}/", f"webserve {version}\n", timeout)
    assert status == 200, (status, body)


def kill_instance_leftovers(root: Path, binary: str) -> None:
    """Teardown: SIGKILL every process under `root` (processes_under) and every supervisor its
    pid files name that is this lavabuild binary (a pid file can be stale)."""
    pids = set(processes_under(root))
    for pidfile in root.glob("instances/*/run/supervisor.pid"):
        try:
            pid = int(pidfile.read_text().split()[0])
            if os.path.realpath(f"/proc/{pid}/exe") == os.path.realpath(binary):
                pids.add(pid)
        except (OSError, ValueError, IndexError):
            pass
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
