"""`lavabuild cache gc` (issue 7 B5): what no live env or lock uses goes, live envs keep
working and re-run as no-ops, --dry-run changes nothing, --max-size evicts least recently
used roots first, and gc beside a running build never breaks it."""
from __future__ import annotations

import os
import shutil
import subprocess
import time

from lbtest import write

PKGS = ["alpha", "zeta", "delta==0.5", "native-ext", "Mixed_Case.Name", "ns-pkg-a", "ns-pkg-b",
        "eta"]


def cache_files(cache_dir) -> dict:
    out = {}
    for dp, _, fns in os.walk(cache_dir):
        for n in fns:
            p = os.path.join(dp, n)
            st = os.lstat(p)
            out[p] = (st.st_size, st.st_mtime_ns)
    return out


def build(lb, basic, tmp_path, i: int, pkgs: list):
    req = write(tmp_path / f"req{i}.txt", "\n".join(pkgs) + "\n")
    target = tmp_path / f"env{i}"
    lb.run("env", req, "-o", target, "-i", basic.index_url).ok()
    return req, target


def test_gc_keeps_live_envs(lb, basic, tmp_path):
    envs = [build(lb, basic, tmp_path, i, [PKGS[i % 8], PKGS[(i + 3) % 8]]) for i in range(10)]
    for _, target in envs[:5]:
        shutil.rmtree(target)
    before = lb.run("cache", "stats", "--json").ok().json()
    assert before["total_bytes"] >= before["bytes"] > 0, before
    assert set(before["bytes_by_area"]) >= {"blobs", "index", "partial", "locks", "tmp"}, before

    files = cache_files(lb.cache_dir)
    dry = lb.run("cache", "gc", "--dry-run", "--json").ok().json()
    assert dry["dry_run"] and dry["blobs"] > 0 and dry["blob_bytes"] > 0, dry
    assert cache_files(lb.cache_dir) == files, "--dry-run changed the cache"

    r = lb.run("cache", "gc", "--json").ok().json()
    assert r["blobs"] == dry["blobs"] and r["removed_bytes"] > 0, (r, dry)
    assert r["live_roots"] == 5, r
    assert any(k.startswith("env/") for k in dry["would_remove"]["index_entries"]), dry
    after = lb.run("cache", "stats", "--json").ok().json()
    assert after["bytes"] < before["bytes"], (before, after)
    lb.run("cache", "verify").ok()
    for req, target in envs[5:]:
        lb.run("verify", target).ok()
        out = lb.run("env", req, "-o", target, "-i", basic.index_url, "--offline").ok()
        assert "is up to date" in out.stderr, out.describe()
    # A second gc finds nothing more to remove.
    again = lb.run("cache", "gc", "--json").ok().json()
    assert again["blobs"] == 0 and again["index_entries"] == 0, again
    # A deleted env's packages are fetched again when needed.
    req, target = envs[0]
    lb.run("env", req, "-o", target, "-i", basic.index_url).ok()
    lb.run("verify", target).ok()


def test_gc_max_size_evicts_least_recently_used(lb, basic, tmp_path):
    old = build(lb, basic, tmp_path, 0, ["alpha"])
    new = build(lb, basic, tmp_path, 1, ["zeta"])
    time.sleep(1.1)  # last-used times have a resolution of 1 s
    lb.run("env", new[0], "-o", new[1], "-i", basic.index_url).ok()  # a no-op use of env1
    r = lb.run("cache", "gc", "--max-size", "1", "--dry-run", "--json").ok().json()
    assert r["evicted"] == ["env/" + str(old[1]), "env/" + str(new[1])], r
    bad = lb.run("cache", "gc", "--max-size", "lots")
    assert bad.returncode == 2 and "--max-size lots is not a size" in bad.stderr, bad.describe()
    # Enough room for the newer env's files alone: only the older env is evicted.
    lb.run("cache", "gc").ok()  # garbage first: what is left is in use
    total = lb.run("cache", "gc", "--dry-run", "--json").ok().json()["size_before"]
    r = lb.run("cache", "gc", "--max-size", str(total - 1), "--json").ok().json()
    assert r["evicted"] == ["env/" + str(old[1])], r
    for _, target in (old, new):  # evicted or not, the envs keep working
        lb.run("verify", target).ok()
    lb.run("cache", "verify").ok()


def test_gc_beside_a_running_build(lb, basic, tmp_path):
    build(lb, basic, tmp_path, 0, ["alpha"])
    req = write(tmp_path / "req.txt", "\n".join(PKGS) + "\n")
    target = tmp_path / "busy"
    p = lb.popen("env", req, "-o", target, "-i", basic.index_url)
    gcs = []
    while p.poll() is None and len(gcs) < 20:
        gcs.append(lb.run("cache", "gc", "--json", timeout=120))
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    for g in gcs:
        g.ok()
    lb.run("verify", target).ok()
    lb.run("cache", "verify").ok()
    r = lb.run("env", req, "-o", target, "-i", basic.index_url, "--offline").ok()
    assert "is up to date" in r.stderr, r.describe()
    assert subprocess.run(["true"]).returncode == 0
