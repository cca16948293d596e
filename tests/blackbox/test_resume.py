"""Resumed downloads (issue 7 B5): a download cut by the network or by Ctrl-C keeps its bytes
under <cache>/partial/ with a note; the next run asks only for the rest (Range + If-Range),
checks the sha256 of the whole file and removes the partial. A server that ignores Range, or
a partial that was tampered with, never yields a wrong file in the store."""
from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lbtest import incompressible_wheel, TOOLS, file_sha, write

sys.path.insert(0, str(Path(__file__).resolve().parent))
from faultserver import FaultServer  # noqa: E402

NO_RETRIES = {"LAVABUILD_HTTP_RETRIES": "0"}  # a cut connection would be retried in the run


@pytest.fixture
def big_wheel(tmp_path) -> Path:
    """bigpkg-1.0: a wheel of 1 MiB of incompressible bytes."""
    return incompressible_wheel(tmp_path / "wheels", "bigpkg", 1 << 20, 11)


def partial_of(lb, url: str) -> Path:
    return lb.cache_dir / "partial" / hashlib.sha256(url.encode()).hexdigest()


def env_works(lb, target: Path) -> None:
    r = subprocess.run([target / "bin" / "python", "-c", "import bigpkg; print(bigpkg.ANSWER)"],
                       capture_output=True, text=True)
    assert r.stdout.strip() == "42", r.stderr
    lb.run("cache", "verify").ok()
    lb.run("verify", target).ok()


def cut_first_run(lb, srv, mode, wheel, tmp_path):
    """The first run: the wheel's connection is cut; returns (requirements, target, url)."""
    req = write(tmp_path / "req.txt", "bigpkg\n")
    target = tmp_path / "env"
    url = srv.url(f"/{mode}/files/{wheel.name}")
    r = lb.run("env", req, "-o", target, "-i", srv.index_url(mode), env=NO_RETRIES).fails()
    assert url in r.stderr, r.describe()
    assert "bytes received are kept" in r.stderr, r.describe()
    part = partial_of(lb, url)
    assert part.is_file(), r.describe()
    assert part.stat().st_size == srv.cut_bytes
    note = (part.parent / (part.name + ".note")).read_text()
    assert note.startswith("lavabuild-partial 1\nurl " + url + "\netag \""), note
    assert f"\nsha256 {srv.wheel_sha}\n" in note and f"\nbytes {srv.cut_bytes}\n" in note, note
    assert not target.exists()
    return req, target, url


def test_cut_download_resumes(lb, big_wheel, tmp_path):
    with FaultServer(big_wheel) as srv:
        req, target, url = cut_first_run(lb, srv, "cutonce", big_wheel, tmp_path)
        assert srv.ranges_requested("cutonce").count("") == 1
        before = len(srv.ranges_requested("cutonce"))
        r = lb.run("env", req, "-o", target, "-i", srv.index_url("cutonce")).ok()
        # The second whole-file request asks for the rest only, if the file did not change.
        asked = [h for p, h in srv.headers_log if p.startswith("/cutonce/files/")
                 and h.get("range") == f"bytes={srv.cut_bytes}-"]
        assert len(asked) == 1, (srv.ranges_requested("cutonce"), r.describe())
        assert asked[0].get("if-range") == '"%s"' % srv.wheel_sha[:16]
        assert "" not in srv.ranges_requested("cutonce")[before:], "the whole file was asked for again"
    assert not partial_of(lb, url).exists()
    assert not list((lb.cache_dir / "partial").iterdir()), "the note was left behind"
    assert (lb.cache_dir / "blobs" / file_sha(big_wheel)[:2] / file_sha(big_wheel)).is_file()
    env_works(lb, target)


def test_server_ignoring_range_starts_over(lb, big_wheel, tmp_path):
    with FaultServer(big_wheel) as srv:
        req, target, url = cut_first_run(lb, srv, "norange", big_wheel, tmp_path)
        lb.run("env", req, "-o", target, "-i", srv.index_url("norange")).ok()
        assert f"bytes={srv.cut_bytes}-" in srv.ranges_requested("norange")  # asked, got 200
    assert not list((lb.cache_dir / "partial").iterdir())
    env_works(lb, target)


def test_tampered_partial_fails_the_hash_and_is_discarded(lb, big_wheel, tmp_path):
    with FaultServer(big_wheel) as srv:
        req, target, url = cut_first_run(lb, srv, "cutonce", big_wheel, tmp_path)
        part = partial_of(lb, url)
        data = bytearray(part.read_bytes())
        for i in range(100, 200):
            data[i] ^= 0xFF
        part.write_bytes(bytes(data))
        r = lb.run("env", req, "-o", target, "-i", srv.index_url("cutonce")).fails()
        assert "hash mismatch for " + url in r.stderr, r.describe()
        assert "resumed after the first" in r.stderr, r.describe()
        assert "run again to download the whole file" in r.stderr, r.describe()
        assert not target.exists()
        assert not list((lb.cache_dir / "partial").iterdir()), "the tampered partial was kept"
        assert file_sha(big_wheel) not in {p.name for p in (lb.cache_dir / "blobs").rglob("*")}
        before = len(srv.ranges_requested("cutonce"))
        lb.run("env", req, "-o", target, "-i", srv.index_url("cutonce")).ok()
        assert "" in srv.ranges_requested("cutonce")[before:], "the third run must start over"
    env_works(lb, target)


def test_interrupted_download_resumes(lb, big_wheel, tmp_path):
    req = write(tmp_path / "req.txt", "bigpkg\n")
    target = tmp_path / "env"
    with FaultServer(big_wheel, trickle_s=0.05) as srv:
        url = srv.url(f"/slowfile/files/{big_wheel.name}")
        p = lb.popen("env", req, "-o", target, "-i", srv.index_url("slowfile"))
        deadline = time.monotonic() + 60
        while "" not in srv.ranges_requested("slowfile"):  # the whole-file GET began
            assert p.poll() is None, "lavabuild ended before the download began:\n" + p.stderr.read()
            assert time.monotonic() < deadline, "the wheel was never requested"
            time.sleep(0.05)
        time.sleep(1.0)  # about 80 KiB arrive
        p.send_signal(signal.SIGINT)
        try:
            _, err = p.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            raise AssertionError("lavabuild did not stop within 20 s of SIGINT")
        assert p.returncode == 130, err
        part = partial_of(lb, url)
        assert part.is_file(), err
        kept = part.stat().st_size
        assert 0 < kept < big_wheel.stat().st_size
        assert big_wheel.read_bytes()[:kept] == part.read_bytes()
        lb.run("env", req, "-o", target, "-i", srv.index_url("slowfile")).ok()
        assert f"bytes={kept}-" in srv.ranges_requested("slowfile")
    assert not list((lb.cache_dir / "partial").iterdir())
    env_works(lb, target)


def test_partials_counted_and_removed_by_gc(lb, big_wheel, tmp_path):
    with FaultServer(big_wheel) as srv:
        cut_first_run(lb, srv, "cutonce", big_wheel, tmp_path)
    stats = lb.run("cache", "stats", "--json").json()
    assert stats["bytes_by_area"]["partial"] >= srv.cut_bytes, stats
    lb.run("cache", "gc").ok()
    assert not any((lb.cache_dir / "partial").iterdir()), "cache gc left a partial download"
    assert lb.run("cache", "stats", "--json").json()["bytes_by_area"]["partial"] == 0
