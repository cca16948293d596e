"""The shared remote cache (issue 9), through the real binary against real servers.

The servers (started per test on 127.0.0.1, stopped after it): the project's own team cache
`cache/team-cache` (nginx with WebDAV, as Bazel's docs set it up), Bazel's own remote worker
over REAPI gRPC (`grpc://`) and the same worker's Bazel HTTP cache (`http://`), and
tests/tools/cache_fault_server.py for faults. Developer A (own store, a signing key) builds an
env with three packages built from source (two sdists from the `sources` index and a local
tree) and uploads; developer B (an empty store, A's public key) builds the same requirements
and gets the same env digest with zero build and unpack steps. Then the servers' files are
tampered with, entries are signed by a key B does not trust, blobs are planted before A
uploads, servers stop, fail, stall, cut or garble answers, writes need a token or a password,
and two uploaders race: every run still succeeds and builds the right env, saying once what
failed (the remote, named without credentials) or which entries it ignored.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import socket
import threading
import time
import urllib.request
from pathlib import Path
from typing import NamedTuple

import pytest
from lbtest import Lavabuild, clean_environ, missing_prerequisite, run, write

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import serve_index  # noqa: E402

REQS = "cext==1.0\nsrcpure==1.0\n./hotapp\n"


KINDS = ("nginx", "grpc", "worker-http")  # the real servers a client is tried against
TOKEN = "team-write-token-0123456789"     # the team cache's write token (auth tests)
SECRET = "secret"                         # the password in user:secret@ URLs: never printed
BUILT = ["cext", "hotapp", "srcpure"]      # what a developer with nothing from a remote builds


def wait_port(port: int, proc: subprocess.Popen, what: str, log: Path | None = None,
              seconds: float = 30) -> None:
    """Until something accepts on 127.0.0.1:port; fails naming `what` (and its log) when
    `proc` exits first or it takes longer than `seconds` (a loaded 2-core machine is slow)."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    pytest.fail(f"{what} did not start on port {port} (exit {proc.poll()})\n{tail}")


def stop_process(proc: subprocess.Popen | None) -> None:
    if proc and proc.poll() is None:
        proc.kill()
        proc.wait(10)


class Server:
    """A remote cache the tests started: `url` is what a client gives --remote-cache (never
    with credentials), `entries(kind)` its files on disk for "ac" (action entries) and "cas"
    (blobs), empty where it keeps them in memory."""
    kind = ""
    port = 0
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        raise NotImplementedError

    def url_with_password(self) -> str:
        """The URL with user:SECRET@ (HTTP kinds; messages must strip it)."""
        return self.url.replace("http://", f"http://user:{SECRET}@") if self.url.startswith("http") \
            else self.url

    def entries(self, kind: str) -> list:
        return []

    def stop(self) -> None:
        stop_process(self.proc)


class CacheDir(Server):
    """A Bazel HTTP cache at http://127.0.0.1:PORT/cache serving files of dir/cache/{ac,cas}/."""

    def __init__(self, data: Path):
        self.dir = data
        self.port = serve_index.free_port()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/cache"

    def entries(self, kind: str) -> list:
        d = self.dir / "cache" / kind
        return sorted(d.iterdir()) if d.is_dir() else []


class TeamCache(CacheDir):
    """cache/team-cache on a free port, data under `dir`; `write_token` / `htpasswd` say who
    may write."""
    kind = "nginx"

    def __init__(self, data: Path, write_token: str | None = None, htpasswd: Path | None = None,
                 tls: tuple | None = None):
        super().__init__(data)
        self.args = ["--write-token", write_token] if write_token else []
        self.args += ["--write-htpasswd", str(htpasswd)] if htpasswd else []
        self.tls = tls  # (certificate, key): https
        self.args += ["--tls-cert", str(tls[0]), "--tls-key", str(tls[1])] if tls else []

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/cache"

    def start(self) -> "TeamCache":
        if not os.access(serve_index.NGINX, os.X_OK):
            missing_prerequisite(f"nginx not found at {serve_index.NGINX}")
        self.proc = subprocess.Popen([str(ROOT / "cache" / "team-cache"), "--port", str(self.port),
                                      "--dir", str(self.dir), *self.args], stdout=subprocess.PIPE,
                                     text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("ready "), f"team-cache did not start: {line!r}"
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # team-cache stops its nginx
            self.proc.wait(10)


class Worker(Server):
    """Bazel's remote worker (tools/remote-worker): REAPI over gRPC on `port` ("grpc") and a
    Bazel HTTP cache on `http_port` ("worker-http"). The two share nothing: the HTTP cache is
    the worker's own in-memory map (HttpCacheServerHandler), which serves <any base>/ac/<hex>
    and <any base>/cas/<hex> (the root included), answers HEAD with 405 and keeps the first PUT
    of a key. The gRPC cache is on disk under --cas_path: DIR/ac/<2 hex>/<hex> (ActionResult
    protos) and DIR/cas/<2 hex>/<hex> (blobs), first writer wins too, and the worker checks a
    blob against its digest when it reads it (a tampered one is an INTERNAL error)."""

    def __init__(self, base: Path, kind: str):
        self.kind, self.dir = kind, base
        self.port, self.http_port = serve_index.free_port(), serve_index.free_port()

    @property
    def url(self) -> str:
        if self.kind == "grpc":
            return f"grpc://127.0.0.1:{self.port}"
        return f"http://127.0.0.1:{self.http_port}"

    def entries(self, kind: str) -> list:
        return sorted((self.dir / "cas" / kind).glob("*/*")) if self.kind == "grpc" else []

    def start(self) -> "Worker":
        missing = [what for what, there in (
            ("a JDK (openjdk-17-jdk-headless)", shutil.which("javac")),
            ("bazel-bootstrap", os.path.exists("/usr/share/bazel/A-server.jar")),
            ("bazel-bootstrap-source", os.path.isdir("/usr/src/bazel-bootstrap/src/tools/remote")))
            if not there]
        if missing:
            missing_prerequisite("Bazel's remote worker needs " + ", ".join(missing))
        script = ROOT / "tools" / "remote-worker"
        log = self.dir / "worker.log"
        for d in ("work", "cas"):
            (self.dir / d).mkdir(parents=True, exist_ok=True)
        built = subprocess.run([script, "--build-only"], capture_output=True, text=True, timeout=300)
        assert built.returncode == 0, f"tools/remote-worker --build-only failed:\n{built.stderr}"
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [script, f"--work_path={self.dir / 'work'}", f"--cas_path={self.dir / 'cas'}",
                 f"--listen_port={self.port}", f"--http_listen_port={self.http_port}", "--jobs=2"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_port(self.port, self.proc, "the remote worker", log)
        wait_port(self.http_port, self.proc, "the remote worker's HTTP cache", log)
        return self


class FaultServer(CacheDir):
    """tests/tools/cache_fault_server.py in `mode` (the team cache's layout: its files can be
    copied in)."""
    kind = "fault"

    def __init__(self, data: Path, mode: str):
        super().__init__(data)
        self.mode = mode

    def start(self) -> "FaultServer":
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen([sys.executable, str(HERE.parent / "tools" / "cache_fault_server.py"),
                                      "--root", str(self.dir), "--port", str(self.port),
                                      "--mode", self.mode], stdin=subprocess.DEVNULL)
        wait_port(self.port, self.proc, f"cache_fault_server.py --mode {self.mode}")
        return self


@pytest.fixture
def start_server(tmp_path):
    """start_server(kind, data=None, **options): a server of `kind` ("nginx", "grpc",
    "worker-http", or "fault" with mode=) keeping its files in `data` (a new directory by
    default), stopped when the test ends."""
    started = []

    def start(kind: str, data: Path | None = None, **kw) -> Server:
        data = data or tmp_path / f"{kind}{len(started)}"
        if kind == "nginx":
            s = TeamCache(data, **kw)
        elif kind == "fault":
            s = FaultServer(data, **kw)
        else:
            s = Worker(data, kind)
        started.append(s)
        return s.start()

    yield start
    for s in started:
        s.stop()


@pytest.fixture
def server(request, start_server) -> Server:
    """The remote of a test: the team cache unless the test is parametrized over KINDS with
    indirect=True."""
    return start_server(getattr(request, "param", "nginx"))


@pytest.fixture(scope="module")
def keys(tmp_path_factory, lavabuild_bin):
    d = tmp_path_factory.mktemp("keys")
    out = {}
    for name in ("ci", "mallory"):
        r = run([lavabuild_bin, "cache", "keygen", "--name", f"{name}-1",
                 "--secret-key", d / f"{name}.sec", "--public-key", d / f"{name}.pub"])
        assert r.returncode == 0, r.describe()
        out[name] = (d / f"{name}.sec", d / f"{name}.pub")
    return out


def uploading(url: str, keys, who: str = "ci") -> list:
    """The options of a developer who signs with `who`'s key, uploads and trusts it."""
    sec, pub = keys[who]
    return ["--remote-cache", url, "--signing-key", sec, "--trusted-key", pub]


def reading(url: str, keys, who: str = "ci") -> list:
    """The options of a developer who only reads, trusting `who`'s key."""
    return ["--remote-cache", url, "--trusted-key", keys[who][1]]


@pytest.fixture
def dev(lavabuild_bin, test_python, environ, tmp_path):
    """dev(who, **env): a developer with an own (empty at first) store, and `env` added to the
    environment of their runs."""
    def make(who: str, **env) -> Lavabuild:
        return Lavabuild(lavabuild_bin, test_python, tmp_path / f"store-{who}", {**environ, **env})
    return make


def workspace(sources, base: Path) -> Path:
    """The checkout: the requirements and the hotapp tree, at base/ws. Every developer's is at
    the same path (as CI checkouts are), because pip's direct_url.json names a local tree's path
    and so is part of the env's digest; each developer's env goes to its own directory."""
    ws = base / "ws"
    if not ws.exists():
        shutil.copytree(sources.root / "projects" / "hotapp", ws / "hotapp")
        write(ws / "req.txt", REQS)
    return ws


def build(dev: Lavabuild, ws: Path, sources, *remote, env_name="env", expect_ok=True):
    env_dir = ws / f"{env_name}-{dev.cache_dir.name}"
    r = dev.run("env", ws / "req.txt", "-o", env_dir, "-i", sources.index_url, "--json",
                *remote, cwd=ws)
    r.env_dir = env_dir
    if expect_ok:
        assert r.returncode == 0, r.describe()
    return r


def kinds(report: dict, kind: str) -> list:
    return sorted(e["package"] for e in report["executed"] if e["kind"] == kind)


def warnings(r) -> list:
    return [line for line in r.stderr.splitlines() if "warning" in line]


def went_on_without(r, server: Server, reference) -> dict:
    """A run whose remote failed: it succeeded and built everything here into the reference
    env, warned once, naming the remote without its password, and counted the error."""
    rep = r.json()
    assert rep["digest"] == reference.digest, "a failing remote changed the env"
    assert kinds(rep, "build") == BUILT, rep["executed"]
    assert len(warnings(r)) == 1 and server.url in warnings(r)[0], r.stderr
    assert SECRET not in r.stdout + r.stderr, r.describe()
    assert rep["remote"]["errors"] >= 1, rep["remote"]
    return rep


@pytest.fixture
def published(dev, tmp_path, sources, server, keys):
    """Developer A built the env and uploaded; returns (A's report, A's workspace)."""
    ws = workspace(sources, tmp_path)
    r = build(dev("a"), ws, sources, *uploading(server.url, keys))
    rep = r.json()
    assert kinds(rep, "build") == BUILT, rep
    assert rep["remote"]["uploaded_bytes"] > 0 and rep["remote"]["errors"] == 0, rep
    assert not warnings(r), r.stderr
    if server.kind != "worker-http":  # the worker's HTTP cache is in its memory
        assert server.entries("ac") and server.entries("cas"), "nothing reached the server's disk"
    return rep, ws


class Reference(NamedTuple):
    ws: Path        # the workspace the tests that compare with it build in
    digest: str     # the env's digest
    served: Path    # a server's files after the upload: served/cache/{ac,cas}/<hex>


@pytest.fixture(scope="module")
def reference(tmp_path_factory, lavabuild_bin, test_python, sources, keys):
    """A's env, built once for the module and uploaded to cache_fault_server.py in normal mode:
    its workspace (tests that compare their env with it build there), its digest, and the
    server's files, which faulty servers serve again."""
    base = tmp_path_factory.mktemp("reference")
    environ = clean_environ()
    environ["XDG_CACHE_HOME"], environ["XDG_CONFIG_HOME"] = str(base / "xdg"), str(base / "xdg")
    srv = FaultServer(base / "served", "normal").start()
    try:
        a = Lavabuild(lavabuild_bin, test_python, base / "store-a", environ)
        ws = workspace(sources, base)
        rep = build(a, ws, sources, *uploading(srv.url, keys)).json()
    finally:
        srv.stop()
    assert kinds(rep, "build") == BUILT and rep["remote"]["uploaded_bytes"] > 0, rep
    assert srv.entries("ac") and srv.entries("cas"), "nothing reached the fault server"
    return Reference(ws, rep["digest"], srv.dir)


def tamper_blobs(files: list) -> None:
    """Other bytes of the same length in every blob."""
    for f in files:
        data = f.read_bytes()
        f.write_bytes(bytes((b + 1) % 256 for b in data) if data else b"x")


def swap_entries(files: list) -> list:
    """Every action entry gets the next one's contents; returns the old contents."""
    contents = [f.read_bytes() for f in files]
    for f, data in zip(files, contents[1:] + contents[:1]):
        f.write_bytes(data)
    return contents


# ---------------------------------------------------------------- A uploads, B downloads
@pytest.mark.parametrize("server", KINDS, indirect=True)
def test_b_gets_a_identical_env_with_no_build(dev, sources, server, keys, published):
    rep_a, ws = published
    b = dev("b")
    r = build(b, ws, sources, *reading(server.url, keys))
    rep = r.json()
    assert rep["digest"] == rep_a["digest"], "B's env differs from A's"
    assert kinds(rep, "build") == [] and kinds(rep, "unpack") == [], rep["executed"]
    assert rep["remote"]["hits"] > 0 and rep["remote"]["uploaded_bytes"] == 0, rep["remote"]
    assert rep["remote"]["errors"] == 0 and not warnings(r), r.stderr
    py = r.env_dir / "bin" / "python"
    out = run([py, "-c", "import cext, srcpure, hotapp; print(cext.answer(), srcpure.WHO)"])
    assert out.returncode == 0 and out.stdout.split() == ["42", "srcpure"], out.describe()
    # Filled locally: the next env needs no remote at all.
    again = build(b, ws, sources, env_name="env2").json()
    assert again["digest"] == rep_a["digest"] and kinds(again, "build") == [], again
    # `cache stats` tells the remote's hit rate, as JSON and as text.
    hits, misses = rep["remote"]["hits"], rep["remote"]["misses"]
    stats = b.run("cache", "stats", "--json").ok().json()["remote"]
    assert (stats["hits"], stats["misses"]) == (hits, misses), stats
    assert stats["hit_rate"] == pytest.approx(hits / (hits + misses)), stats
    text = b.run("cache", "stats").ok().stdout
    assert f"remote cache: {hits} hits, {misses} misses (hit rate {round(100 * hits / (hits + misses))}%)" \
        in text, text


def test_without_a_signing_key_nothing_is_uploaded(dev, tmp_path, sources, server, keys):
    c = dev("c")
    ws = workspace(sources, tmp_path)
    rep = build(c, ws, sources, *reading(server.url, keys)).json()
    assert rep["remote"]["uploaded_bytes"] == 0 and not server.entries("ac"), rep["remote"]
    ro = build(c, ws, sources, *uploading(server.url, keys), "--remote-read-only", "--reinstall",
               env_name="env-ro").json()
    assert ro["remote"]["uploaded_bytes"] == 0 and not server.entries("ac"), ro["remote"]


# ---------------------------------------------------------------- trust
@pytest.mark.parametrize("server", KINDS, indirect=True)
def test_entries_of_an_untrusted_key_are_not_used(dev, sources, server, keys, published):
    rep_a, ws = published
    r = build(dev("b"), ws, sources, *reading(server.url, keys, "mallory"))
    rep = r.json()
    assert kinds(rep, "build") == BUILT, rep["executed"]
    assert rep["digest"] == rep_a["digest"]
    assert "untrusted key ci-1" in r.stderr, r.stderr
    assert rep["remote"]["hits"] == 0 and rep["remote"]["errors"] == 0, rep["remote"]


def test_tampered_blobs_and_entries_are_rejected(dev, sources, server, keys, published):
    rep_a, ws = published
    # Every blob on the server's disk gets other bytes of the same length, and every action
    # entry is swapped with another one: nothing the server holds may be used.
    tamper_blobs(server.entries("cas"))
    swap_entries(server.entries("ac"))
    r = build(dev("b"), ws, sources, *reading(server.url, keys))
    rep = r.json()
    assert rep["digest"] == rep_a["digest"], "a poisoned cache changed the env"
    assert kinds(rep, "build") == BUILT, rep["executed"]
    assert "ignored the remote entry" in r.stderr, r.stderr
    assert rep["remote"]["hits"] == 0, rep["remote"]


@pytest.mark.parametrize("server", ["grpc"], indirect=True)
def test_tampered_worker_disk(dev, sources, server, keys, published):
    """On the gRPC worker's disk: swapped action entries are lavabuild's to reject (the worker
    serves them as they are); a tampered blob is the worker's own to refuse (it checks what it
    reads against the digest and fails the read): the remote is dropped, with one warning."""
    rep_a, ws = published
    acs = server.entries("ac")
    contents = swap_entries(acs)
    r = build(dev("b1"), ws, sources, *reading(server.url, keys))
    rep = r.json()
    assert rep["digest"] == rep_a["digest"], "a poisoned cache changed the env"
    assert kinds(rep, "build") == BUILT, rep["executed"]
    assert "ignored the remote entry" in r.stderr and "going on without it" not in r.stderr, r.stderr
    assert rep["remote"]["hits"] == 0 and rep["remote"]["errors"] == 0, rep["remote"]
    for f, data in zip(acs, contents):  # the right entries, over blobs with other bytes
        f.write_bytes(data)
    tamper_blobs(server.entries("cas"))
    r = build(dev("b2"), ws, sources, *reading(server.url, keys))
    rep = r.json()
    assert rep["digest"] == rep_a["digest"], "a poisoned cache changed the env"
    assert kinds(rep, "build") == BUILT, rep["executed"]
    assert len(warnings(r)) == 1 and server.url in r.stderr and "INTERNAL" in r.stderr, r.stderr
    assert rep["remote"]["hits"] == 0 and rep["remote"]["errors"] >= 1, rep["remote"]


def test_blobs_planted_before_the_upload_are_rejected(dev, sources, keys, reference, start_server):
    """The worker's HTTP cache keeps the first PUT of a key (as its disk CAS does, and as a cache
    anyone may write to lets anyone go first): someone who knows what A will upload (the files
    of a public package) puts other bytes there first. A, asking only whether a blob is there,
    does not upload it again; B reads the planted bytes and must reject them."""
    server = start_server("worker-http")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    planted = [f.name for f in reference.served.joinpath("cache", "cas").iterdir()]
    for name in planted:
        req = urllib.request.Request(f"{server.url}/cas/{name}", data=b"planted", method="PUT")
        assert opener.open(req, timeout=10).status == 204
    a = build(dev("a"), reference.ws, sources, *uploading(server.url, keys), env_name="env-planted")
    assert a.json()["remote"]["errors"] == 0 and not warnings(a), a.stderr
    r = build(dev("b"), reference.ws, sources, *reading(server.url, keys), env_name="env-planted")
    rep = r.json()
    rejected_only(r, server, reference)


def rejected_only(r, server: Server, reference) -> None:
    """A run that got other bytes than it asked for: it built the reference env, and every
    warning is an entry it ignored because a blob (or its manifest) does not match its digest;
    the remote stayed in use (no error: a wrong blob is the entry's fault, not the server's)."""
    rep = r.json()
    assert rep["digest"] == reference.digest, "a poisoned cache changed the env"
    assert warnings(r), r.stderr
    for line in warnings(r):
        assert "ignored the remote entry" in line and f"from {server.url}:" in line \
            and "does not match its digest" in line, r.stderr
    assert rep["remote"]["errors"] == 0, rep["remote"]


def test_an_entry_signed_by_mallory_over_a_good_one_is_not_used(dev, sources, server, keys, published):
    """(The team cache only: both of the worker's caches keep the first writer's entry.)"""
    rep_a, ws = published
    # Mallory, who can write to the server, uploads entries under the same keys, signed with
    # their own key: they replace A's, and B (who trusts only ci-1) must not use them.
    build(dev("m"), ws, sources, *uploading(server.url, keys, "mallory"))
    r = build(dev("b"), ws, sources, *reading(server.url, keys))
    rep = r.json()
    assert rep["digest"] == rep_a["digest"]
    assert kinds(rep, "build") == BUILT, rep["executed"]
    assert "untrusted key mallory-1" in r.stderr, r.stderr


# ---------------------------------------------------------------- faults
@pytest.mark.parametrize("kind", KINDS)
def test_a_stopped_server_costs_one_warning(kind, dev, sources, keys, reference, start_server):
    server = start_server(kind)
    server.stop()
    r = build(dev("c"), reference.ws, sources, *uploading(server.url_with_password(), keys),
              "--remote-timeout", "1", env_name=f"env-stopped-{kind}")
    went_on_without(r, server, reference)


# What the one warning says of each fault. wrongbytes answers every GET with other bytes, so
# the first action entry read does not parse: a server that answers garbage is a failing server
# (remote/cache.hpp), dropped for the run; wrong blobs under right entries are rejected one
# entry at a time (test_wrong_blobs_are_rejected).
FAULTS = {"error500": "the server answered HTTP 500", "stall": "timed out",
          "truncated": "transfer closed", "wrongbytes": "malformed ActionResult"}


@pytest.fixture
def serving_reference(tmp_path, reference, start_server):
    """serving_reference(mode): cache_fault_server.py in `mode`, serving a copy of what A
    uploaded (so a lookup finds an entry to answer badly)."""
    def start(mode: str) -> Server:
        root = tmp_path / f"served-{mode}"
        shutil.copytree(reference.served, root)
        return start_server("fault", root, mode=mode)
    return start


@pytest.mark.parametrize("mode", FAULTS)
def test_a_faulty_server_costs_one_warning(mode, dev, sources, keys, reference, serving_reference):
    server = serving_reference(mode)
    r = build(dev("c"), reference.ws, sources, *uploading(server.url_with_password(), keys),
              "--remote-timeout", "1", env_name=f"env-{mode}")
    went_on_without(r, server, reference)
    assert FAULTS[mode] in warnings(r)[0], r.stderr


def test_wrong_blobs_are_rejected(dev, sources, keys, reference, serving_reference):
    server = serving_reference("wrongblobs")
    # Nothing stalls here: a generous timeout, so that a slow moment of a loaded machine is not
    # taken for a failing server (the stall fault has its own test).
    r = build(dev("c"), reference.ws, sources, *reading(server.url, keys), "--remote-timeout", "20",
              env_name="env-wrongblobs")
    rejected_only(r, server, reference)
    rep = r.json()
    assert kinds(rep, "build") == BUILT and rep["remote"]["hits"] == 0, rep


# ---------------------------------------------------------------- who may write
@pytest.mark.parametrize("header", [None, "Authorization: Bearer not-the-team-token-42"])
def test_a_writer_without_the_token_is_refused_once(header, dev, tmp_path, sources, keys,
                                                    reference, start_server):
    server = start_server("nginx", write_token=TOKEN)
    given = ["--remote-header", header] if header else []
    r = build(dev("a"), reference.ws, sources, *uploading(server.url, keys), *given,
              env_name=f"env-refused-{bool(header)}")
    rep = went_on_without(r, server, reference)
    assert "HTTP 401" in r.stderr, r.stderr
    assert "not-the-team-token" not in r.stdout + r.stderr, r.describe()
    assert not server.entries("ac") and rep["remote"]["uploaded_bytes"] == 0, rep["remote"]


def test_https_with_a_private_ca(dev, tmp_path, sources, keys, reference, start_server):
    """A team cache behind TLS with its own CA: with --remote-ca the client uploads and reads;
    without it, the certificate is refused (one warning) and the run goes on locally."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"]).ok()
    server = start_server("nginx", tls=(cert, key))
    assert server.url.startswith("https://")
    r = build(dev("a"), reference.ws, sources, *uploading(server.url, keys), "--remote-ca", cert,
              env_name="env-tls")
    rep = r.json()
    assert rep["remote"]["uploaded_bytes"] > 0 and not warnings(r), r.stderr
    b = build(dev("b"), reference.ws, sources, *reading(server.url, keys), "--remote-ca", cert,
              env_name="env-tls").json()
    assert b["digest"] == reference.digest and kinds(b, "build") == [], b
    c = build(dev("c"), reference.ws, sources, *reading(server.url, keys), env_name="env-tls")
    went_on_without(c, server, reference)
    assert "certificate" in c.stderr.lower() or "SSL" in c.stderr, c.stderr


@pytest.mark.parametrize("how", ["--remote-header", "LAVABUILD_REMOTE_HEADER", "netrc"])
def test_a_writer_with_credentials_uploads(how, dev, tmp_path, sources, keys, reference,
                                           start_server):
    """The token (or, with basic auth, the password in ~/.netrc) lets A write; readers need
    nothing; neither secret is ever printed."""
    header = f"Authorization: Bearer {TOKEN}"
    given, env, secret = [], {}, TOKEN
    if how == "netrc":
        secret = "netrc-password-of-ci"
        hashed = run(["openssl", "passwd", "-apr1", secret]).ok().stdout.strip()
        htpasswd = write(tmp_path / "htpasswd", f"ci:{hashed}\n")
        server = start_server("nginx", htpasswd=htpasswd)
        netrc = write(tmp_path / "home" / ".netrc", f"machine 127.0.0.1 login ci password {secret}\n")
        netrc.chmod(0o600)
        env["HOME"] = str(netrc.parent)
    else:
        server = start_server("nginx", write_token=TOKEN)
        if how == "--remote-header":
            given = ["--remote-header", header]
        else:
            env["LAVABUILD_REMOTE_HEADER"] = header
    env_name = f"env-{how.strip('-').lower()}"
    r = build(dev("a", **env), reference.ws, sources, *uploading(server.url, keys), *given,
              env_name=env_name)
    rep = r.json()
    assert rep["remote"]["uploaded_bytes"] > 0 and rep["remote"]["errors"] == 0, r.stderr
    assert not warnings(r) and server.entries("ac"), r.stderr
    assert secret not in r.stdout + r.stderr, r.describe()
    b = build(dev("b"), reference.ws, sources, *reading(server.url, keys), env_name=env_name).json()
    assert b["digest"] == reference.digest and kinds(b, "build") == [], b


def test_two_uploaders_at_once(dev, tmp_path, sources, server, keys):
    results = {}
    ws = workspace(sources, tmp_path)  # made once, before the threads

    def one(who):
        results[who] = build(dev(who), ws, sources, *uploading(server.url, keys), expect_ok=False)

    threads = [threading.Thread(target=one, args=(w,)) for w in ("a1", "a2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["a1", "a2"], results
    for who, r in results.items():
        assert r.returncode == 0, r.describe()
        assert not warnings(r), r.stderr
    rep = build(dev("b"), ws, sources, *reading(server.url, keys)).json()
    assert kinds(rep, "build") == [] and rep["digest"] == results["a1"].json()["digest"], rep


# ---------------------------------------------------------------- push and pull
def test_push_an_env_then_pull_a_lock(dev, tmp_path, sources, server, keys, test_python):
    sec, pub = keys["ci"]
    a = dev("a")
    ws = workspace(sources, tmp_path)
    build(a, ws, sources)  # with no remote at all
    assert not server.entries("ac")
    pushed_env = ws / f"env-{a.cache_dir.name}"
    r = a.run("cache", "push", pushed_env, "--remote-cache", server.url, "--signing-key", sec)
    assert r.returncode == 0 and "pushed" in r.stdout + r.stderr, r.describe()
    assert server.entries("ac")
    lock = ws / "pylock.toml"
    assert a.run("lock", ws / "req.txt", "-o", lock, "-i", sources.index_url, cwd=ws).returncode == 0
    # The env of the lock, as A builds it (a lock's env need not be the requirements' env:
    # which packages are "requested" differs).
    from_lock = a.run("env", lock, "-o", tmp_path / "a-from-lock", "--json", "-i", sources.index_url,
                      cwd=ws)
    assert from_lock.returncode == 0, from_lock.describe()
    rep_a = from_lock.json()
    assert kinds(rep_a, "build") == [], rep_a  # built already for the env
    # A deploy host pre-fetches what the lock needs, then builds it offline.
    h = dev("host")
    r = h.run("cache", "pull", lock, "--remote-cache", server.url, "--trusted-key", pub,
              "-i", sources.index_url, "--python", test_python, cwd=ws)
    assert r.returncode == 0 and "pulled" in r.stdout + r.stderr, r.describe()
    rep = h.run("env", lock, "-o", tmp_path / "deployed", "--offline", "--json", cwd=ws)
    assert rep.returncode == 0, rep.describe()
    assert rep.json()["digest"] == rep_a["digest"] and kinds(rep.json(), "build") == []

