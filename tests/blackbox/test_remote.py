"""The shared remote cache (issue 9), through the real binary against real servers.

A team cache is the project's own `cache/team-cache` (nginx with WebDAV, as Bazel's docs set
it up), started per test module on 127.0.0.1. Developer A (own store, a signing key) builds an
env with three packages built from source (two sdists from the `sources` index and a local
tree) and uploads; developer B (an empty store, A's public key) builds the same requirements
and gets the same env digest with zero build steps. Then the server's files are tampered with,
entries are signed by a key B does not trust, the server is stopped or replaced by a faulty
one, and two uploaders race: every run still succeeds and builds the right env, warning once.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from lbtest import Lavabuild, run, write

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import serve_index  # noqa: E402

REQS = "cext==1.0\nsrcpure==1.0\n./hotapp\n"


class TeamCache:
    """cache/team-cache on a free port, data under `dir`."""

    def __init__(self, data: Path):
        self.dir = data
        self.port = serve_index.free_port()
        self.proc = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/cache"

    def files(self, kind: str) -> list:
        d = self.dir / "cache" / kind
        return sorted(d.iterdir()) if d.is_dir() else []

    def start(self) -> "TeamCache":
        self.proc = subprocess.Popen([str(ROOT / "cache" / "team-cache"), "--port", str(self.port),
                                      "--dir", str(self.dir)], stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("ready "), f"team-cache did not start: {line!r}"
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def team(tmp_path):
    if not os.access(serve_index.NGINX, os.X_OK):
        pytest.fail(f"nginx not found at {serve_index.NGINX}")
    t = TeamCache(tmp_path / "team").start()
    yield t
    t.stop()


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


def developer(lavabuild_bin, test_python, environ, tmp_path, who: str) -> Lavabuild:
    cache = tmp_path / f"store-{who}"
    return Lavabuild(lavabuild_bin, test_python, cache, environ)


def workspace(sources, tmp_path, who: str) -> Path:
    """The checkout: the requirements and the hotapp tree. Every developer's is at the same
    path (as CI checkouts are), because pip's direct_url.json names a local tree's path and so
    is part of the env's digest; each developer's env goes to its own directory."""
    ws = tmp_path / "ws"
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


@pytest.fixture
def published(lavabuild_bin, test_python, environ, tmp_path, sources, team, keys):
    """Developer A built the env and uploaded; returns (A's report, A's workspace)."""
    a = developer(lavabuild_bin, test_python, environ, tmp_path, "a")
    ws = workspace(sources, tmp_path, "a")
    sec, pub = keys["ci"]
    r = build(a, ws, sources, "--remote-cache", team.url, "--signing-key", sec, "--trusted-key", pub)
    rep = r.json()
    assert kinds(rep, "build") == ["cext", "hotapp", "srcpure"], rep
    assert rep["remote"]["uploaded_bytes"] > 0 and rep["remote"]["errors"] == 0, rep
    assert team.files("ac") and team.files("cas"), "nothing reached the team cache"
    return rep, ws


# ---------------------------------------------------------------- A uploads, B downloads
def test_b_gets_a_identical_env_with_no_build(lavabuild_bin, test_python, environ, tmp_path, sources,
                                              team, keys, published):
    rep_a, _ = published
    b = developer(lavabuild_bin, test_python, environ, tmp_path, "b")
    ws = workspace(sources, tmp_path, "b")
    r = build(b, ws, sources, "--remote-cache", team.url, "--trusted-key", keys["ci"][1])
    rep = r.json()
    assert rep["digest"] == rep_a["digest"], "B's env differs from A's"
    assert kinds(rep, "build") == [] and kinds(rep, "unpack") == [], rep["executed"]
    assert rep["remote"]["hits"] > 0 and rep["remote"]["uploaded_bytes"] == 0, rep["remote"]
    assert not warnings(r), r.stderr
    py = r.env_dir / "bin" / "python"
    out = run([py, "-c", "import cext, srcpure, hotapp; print(cext.answer(), srcpure.WHO)"])
    assert out.returncode == 0 and out.stdout.split() == ["42", "srcpure"], out.describe()
    # Filled locally: the next env needs no remote at all.
    again = build(b, ws, sources, env_name="env2").json()
    assert again["digest"] == rep_a["digest"] and kinds(again, "build") == [], again
    stats = b.run("cache", "stats", "--json").json()
    assert stats["remote"]["hits"] == rep["remote"]["hits"] and stats["remote"]["hit_rate"] > 0, stats


def test_without_a_signing_key_nothing_is_uploaded(lavabuild_bin, test_python, environ, tmp_path,
                                                   sources, team, keys):
    c = developer(lavabuild_bin, test_python, environ, tmp_path, "c")
    ws = workspace(sources, tmp_path, "c")
    rep = build(c, ws, sources, "--remote-cache", team.url, "--trusted-key", keys["ci"][1]).json()
    assert rep["remote"]["uploaded_bytes"] == 0 and not team.files("ac"), rep["remote"]
    sec = keys["ci"][0]
    ro = build(c, ws, sources, "--remote-cache", team.url, "--signing-key", sec,
               "--remote-read-only", "--reinstall", env_name="env-ro").json()
    assert ro["remote"]["uploaded_bytes"] == 0 and not team.files("ac"), ro["remote"]


# ---------------------------------------------------------------- trust
def test_entries_of_an_untrusted_key_are_not_used(lavabuild_bin, test_python, environ, tmp_path,
                                                  sources, team, keys, published):
    rep_a, _ = published
    b = developer(lavabuild_bin, test_python, environ, tmp_path, "b")
    ws = workspace(sources, tmp_path, "b")
    r = build(b, ws, sources, "--remote-cache", team.url, "--trusted-key", keys["mallory"][1])
    rep = r.json()
    assert kinds(rep, "build") == ["cext", "hotapp", "srcpure"], rep["executed"]
    assert rep["digest"] == rep_a["digest"]
    assert "untrusted key ci-1" in r.stderr, r.stderr


def test_tampered_blobs_and_entries_are_rejected(lavabuild_bin, test_python, environ, tmp_path,
                                                 sources, team, keys, published):
    rep_a, _ = published
    # Every blob on the server's disk gets other bytes of the same length, and every action
    # entry is swapped with another one: nothing the server holds may be used.
    for f in team.files("cas"):
        data = f.read_bytes()
        f.write_bytes(bytes((b + 1) % 256 for b in data) if data else b"x")
    acs = team.files("ac")
    contents = [f.read_bytes() for f in acs]
    for f, data in zip(acs, contents[1:] + contents[:1]):
        f.write_bytes(data)
    b = developer(lavabuild_bin, test_python, environ, tmp_path, "b")
    ws = workspace(sources, tmp_path, "b")
    r = build(b, ws, sources, "--remote-cache", team.url, "--trusted-key", keys["ci"][1])
    rep = r.json()
    assert rep["digest"] == rep_a["digest"], "a poisoned cache changed the env"
    assert kinds(rep, "build") == ["cext", "hotapp", "srcpure"], rep["executed"]
    assert "ignored the remote entry" in r.stderr, r.stderr
    assert rep["remote"]["hits"] == 0, rep["remote"]


def test_an_entry_signed_by_mallory_over_a_good_one_is_not_used(lavabuild_bin, test_python, environ,
                                                                tmp_path, sources, team, keys,
                                                                published):
    rep_a, _ = published
    # Mallory, who can write to the server, uploads entries under the same keys, signed with
    # their own key: they replace A's, and B (who trusts only ci-1) must not use them.
    m = developer(lavabuild_bin, test_python, environ, tmp_path, "m")
    ws = workspace(sources, tmp_path, "m")
    sec, pub = keys["mallory"]
    build(m, ws, sources, "--remote-cache", team.url, "--signing-key", sec, "--trusted-key", pub)
    b = developer(lavabuild_bin, test_python, environ, tmp_path, "b")
    r = build(b, ws, sources, "--remote-cache", team.url, "--trusted-key", keys["ci"][1])
    rep = r.json()
    assert rep["digest"] == rep_a["digest"]
    assert kinds(rep, "build") == ["cext", "hotapp", "srcpure"], rep["executed"]
    assert "untrusted key mallory-1" in r.stderr, r.stderr


# ---------------------------------------------------------------- faults
def test_a_stopped_server_costs_one_warning(lavabuild_bin, test_python, environ, tmp_path, sources,
                                            team, keys):
    team.stop()
    c = developer(lavabuild_bin, test_python, environ, tmp_path, "c")
    ws = workspace(sources, tmp_path, "c")
    sec, pub = keys["ci"]
    r = build(c, ws, sources, "--remote-cache", team.url.replace("http://", "http://user:s3cret@"),
              "--signing-key", sec, "--trusted-key", pub, "--remote-timeout", "2")
    rep = r.json()
    assert kinds(rep, "build") == ["cext", "hotapp", "srcpure"]
    assert len(warnings(r)) == 1, r.stderr
    assert f"127.0.0.1:{team.port}" in r.stderr and "s3cret" not in r.stderr + r.stdout, r.stderr
    assert rep["remote"]["errors"] >= 1


def test_two_uploaders_at_once(lavabuild_bin, test_python, environ, tmp_path, sources, team, keys):
    sec, pub = keys["ci"]
    results = {}
    ws = workspace(sources, tmp_path, "a")  # made once, before the threads

    def one(who):
        dev = developer(lavabuild_bin, test_python, environ, tmp_path, who)
        results[who] = build(dev, ws, sources, "--remote-cache", team.url, "--signing-key", sec,
                             "--trusted-key", pub, expect_ok=False)

    threads = [threading.Thread(target=one, args=(w,)) for w in ("a1", "a2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["a1", "a2"], results
    for who, r in results.items():
        assert r.returncode == 0, r.describe()
        assert not warnings(r), r.stderr
    b = developer(lavabuild_bin, test_python, environ, tmp_path, "b")
    ws = workspace(sources, tmp_path, "b")
    rep = build(b, ws, sources, "--remote-cache", team.url, "--trusted-key", pub).json()
    assert kinds(rep, "build") == [] and rep["digest"] == results["a1"].json()["digest"], rep


# ---------------------------------------------------------------- push and pull
def test_push_an_env_then_pull_a_lock(lavabuild_bin, test_python, environ, tmp_path, sources, team,
                                      keys):
    sec, pub = keys["ci"]
    a = developer(lavabuild_bin, test_python, environ, tmp_path, "a")
    ws = workspace(sources, tmp_path, "a")
    build(a, ws, sources)  # with no remote at all
    assert not team.files("ac")
    pushed_env = ws / f"env-{a.cache_dir.name}"
    r = a.run("cache", "push", pushed_env, "--remote-cache", team.url, "--signing-key", sec)
    assert r.returncode == 0 and "pushed" in r.stdout + r.stderr, r.describe()
    assert team.files("ac")
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
    h = developer(lavabuild_bin, test_python, environ, tmp_path, "host")
    r = h.run("cache", "pull", lock, "--remote-cache", team.url, "--trusted-key", pub,
              "-i", sources.index_url, "--python", test_python, cwd=ws)
    assert r.returncode == 0 and "pulled" in r.stdout + r.stderr, r.describe()
    rep = h.run("env", lock, "-o", tmp_path / "deployed", "--offline", "--json", cwd=ws)
    assert rep.returncode == 0, rep.describe()
    assert rep.json()["digest"] == rep_a["digest"] and kinds(rep.json(), "build") == []
