"""Hostile servers and requirement files (issue 6, points 4-6): every case ends with exit 1
and a message naming the URL or file:line and the limit, keeps no blob of refused data,
writes nothing outside the target, leaves a cache that verifies, and stays under 256 MiB.
Limits are made small through LAVABUILD_* variables so each case takes a few seconds."""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
from pathlib import Path

import pytest
from lbtest import write

sys.path.insert(0, str(Path(__file__).resolve().parent))
from faultserver import FaultServer  # noqa: E402

MAX_RSS_KIB = 256 * 1024


@pytest.fixture
def fault(basic):
    # Pages of page_mib MiB: just under the default LAVABUILD_MAX_PAGE_SIZE (32 MiB).
    with FaultServer(basic.wheel("delta-0.5"), page_mib=31) as srv:
        yield srv


def blobs(cache_dir: Path) -> dict:
    """sha256 -> size of every blob in the store."""
    out = {}
    root = cache_dir / "blobs"
    if root.exists():
        for p in root.rglob("*"):
            if p.is_file():
                out[p.name.split(".")[0]] = p.stat().st_size
    return out


def big_files(cache_dir: Path, limit: int) -> list:
    return [str(p) for p in cache_dir.rglob("*") if p.is_file() and p.stat().st_size > limit]


def check_refused(lb, r, tmp_path: Path, env_dir: Path, *needles: str) -> None:
    r.fails(1)
    for n in needles:
        assert n in r.stderr, f"the message must name {n!r}\n" + r.describe()
    assert "Traceback" not in r.stderr and "terminate" not in r.stderr
    assert r.maxrss_kib <= MAX_RSS_KIB, f"peak RSS {r.maxrss_kib} KiB > 256 MiB\n" + r.describe()
    assert not env_dir.exists(), "no env may be left behind"
    outside = sorted(p.name for p in tmp_path.iterdir()) if tmp_path.exists() else []
    assert set(outside) <= {"cache", "req.txt", "xdg-cache", "xdg-config", "local", "reqs"}, outside
    lb.run("cache", "verify").ok()


def env_run(lb, tmp_path: Path, index_url: str, req="delta==0.5\n", env=None, timeout=120):
    req_file = write(tmp_path / "req.txt", req)
    env_dir = tmp_path / "env"
    return lb.run("env", req_file, "-o", env_dir, "-i", index_url, env=env or {}, timeout=timeout), env_dir


def test_fault_server_ok_mode_installs(lb, fault, tmp_path):
    """The harness itself: the unfaulty mode gives a working env."""
    r, env_dir = env_run(lb, tmp_path, fault.index_url("ok"))
    r.ok()
    assert (env_dir / "bin" / "python").exists()


def test_trickling_page_times_out(lb, fault, tmp_path):
    r, env_dir = env_run(lb, tmp_path, fault.index_url("trickle"), env={"LAVABUILD_HTTP_TIMEOUT": "2"})
    check_refused(lb, r, tmp_path, env_dir, fault.index_url("trickle"), "LAVABUILD_HTTP_TIMEOUT", "timed out")
    assert len(fault.hits("trickle")) <= 2, "a stalled transfer is retried at most once"


def test_stalled_page_times_out(lb, fault, tmp_path):
    r, env_dir = env_run(lb, tmp_path, fault.index_url("stall"), env={"LAVABUILD_HTTP_TIMEOUT": "2"})
    check_refused(lb, r, tmp_path, env_dir, fault.index_url("stall"), "timed out")
    assert len(fault.hits("stall")) <= 2


def test_timeout_option(lb, fault, tmp_path):
    req_file = write(tmp_path / "req.txt", "delta==0.5\n")
    env_dir = tmp_path / "env"
    r = lb.run("env", req_file, "-o", env_dir, "-i", fault.index_url("stall"), "--timeout", "2", timeout=120)
    check_refused(lb, r, tmp_path, env_dir, "timed out", "--timeout")


def test_deadline_per_transfer(lb, fault, tmp_path):
    """A server just fast enough for the low-speed limit still meets the overall deadline."""
    r, env_dir = env_run(lb, tmp_path, fault.index_url("trickle"),
                         env={"LAVABUILD_HTTP_LOW_SPEED": "0", "LAVABUILD_HTTP_DEADLINE": "3"})
    check_refused(lb, r, tmp_path, env_dir, fault.index_url("trickle"), "LAVABUILD_HTTP_DEADLINE")


def test_endless_download_is_cut_and_not_kept(lb, fault, tmp_path):
    r, env_dir = env_run(lb, tmp_path, fault.index_url("endless"), env={"LAVABUILD_MAX_DOWNLOAD_SIZE": "1M"})
    check_refused(lb, r, tmp_path, env_dir, fault.url("/endless/files/"), "LAVABUILD_MAX_DOWNLOAD_SIZE",
                  str(1 << 20))
    assert not big_files(lb.cache_dir, 512 * 1024), "no part of the endless body may be kept"


def test_gzip_bomb_page_is_refused(lb, fault, tmp_path):
    """512 MiB decompressed from ~0.5 MB on the wire: cut at the default page limit (32 MiB)."""
    r, env_dir = env_run(lb, tmp_path, fault.index_url("bomb"))
    check_refused(lb, r, tmp_path, env_dir, fault.index_url("bomb"), "LAVABUILD_MAX_PAGE_SIZE")
    assert not big_files(lb.cache_dir, 1 << 20), "the bomb must not be cached"


def test_page_size_limit_is_adjustable(lb, fault, tmp_path):
    r, env_dir = env_run(lb, tmp_path, fault.index_url("ok"), env={"LAVABUILD_MAX_PAGE_SIZE": "100"})
    check_refused(lb, r, tmp_path, env_dir, fault.index_url("ok"), "LAVABUILD_MAX_PAGE_SIZE", "100 bytes")
    bad = lb.run("env", tmp_path / "req.txt", "-o", env_dir, "-i", fault.index_url("ok"),
                 env={"LAVABUILD_MAX_PAGE_SIZE": "lots"})
    bad.fails(1)
    assert "LAVABUILD_MAX_PAGE_SIZE=lots" in bad.stderr, bad.describe()


def test_page_with_many_versions(lb, fault, tmp_path):
    """100,000 versions: parsed and ranked in linear time and bounded memory."""
    r, env_dir = env_run(lb, tmp_path, fault.index_url("huge"), req="delta==99\n", timeout=120)
    check_refused(lb, r, tmp_path, env_dir, "delta")
    assert len(fault.hits("huge")) == 1


def test_file_links_on_http_page_are_ignored(lb, fault, tmp_path):
    """An index served over HTTP cannot make lavabuild install (or read) a local file."""
    r, env_dir = env_run(lb, tmp_path, fault.index_url("filelinks"))
    check_refused(lb, r, tmp_path, env_dir, "file:", fault.index_url("filelinks"))
    assert "warning" in r.stderr
    assert fault.wheel_sha not in blobs(lb.cache_dir), "the local wheel was copied into the store"


def test_hash_mismatch_keeps_nothing(lb, fault, tmp_path):
    r, env_dir = env_run(lb, tmp_path, fault.index_url("badhash"))
    check_refused(lb, r, tmp_path, env_dir, "hash mismatch", fault.url("/badhash/files/"), "0" * 64,
                  fault.wheel_sha)
    assert fault.wheel_sha not in blobs(lb.cache_dir)


def test_local_file_with_wrong_hash_is_not_stored(lb, basic, tmp_path):
    """A local file (here unreadable to others, like /etc/shadow) whose hash does not match the
    pinned one never becomes a (world-readable) blob."""
    local = tmp_path / "local"
    local.mkdir()
    wheel = local / basic.wheel("delta-0.5").name
    shutil.copy(basic.wheel("delta-0.5"), wheel)
    os.chmod(wheel, 0o600)
    sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    req_file = write(tmp_path / "req.txt", f"delta @ file://{wheel}#sha256={'1' * 64}\n")
    env_dir = tmp_path / "env"
    r = lb.run("env", req_file, "-o", env_dir, "--no-index")
    check_refused(lb, r, tmp_path, env_dir, "hash mismatch", str(wheel), "1" * 64, sha)
    assert sha not in blobs(lb.cache_dir), "a file with the wrong hash entered the store"


def test_deep_requirement_chain(lb, basic, tmp_path):
    """5,000 files each including the next: an error naming file:line and the limit, no crash."""
    d = tmp_path / "reqs"
    d.mkdir()
    n = 5000
    for i in range(n):
        (d / f"r{i}.txt").write_text(f"-r r{i + 1}.txt\n" if i + 1 < n else "delta==0.5\n")
    env_dir = tmp_path / "env"
    r = lb.run("env", d / "r0.txt", "-o", env_dir, "--no-index", "-f", basic.files)
    check_refused(lb, r, tmp_path, env_dir, "r99.txt:1", "deeper than 100", "r100.txt")
    assert r.returncode == 1 and "r0.txt" in r.stderr


def test_concurrent_runs_download_each_wheel_once(lb, basic, served_root, tmp_path):
    """Several processes on one cold cache: each wheel is downloaded once (nginx access log)."""
    import serve_index
    with serve_index.Nginx(str(served_root)) as ngx:
        req = write(tmp_path / "req.txt", (basic.files / "requirements.txt").read_text())
        index = ngx.url("/basic/simple")
        procs = [lb.popen("env", req, "-o", tmp_path / f"env{i}", "-i", index) for i in range(4)]
        outs = [(p.wait(120), *p.communicate()) for p in procs]
        for code, out, err in outs:
            assert code == 0, err
        log = Path(ngx.access_log).read_text()
    fetched: dict = {}
    for line in log.splitlines():
        m = re.search(r'"GET (\S+\.whl) HTTP/[\d.]+" 200 ', line)
        if m:
            fetched[m.group(1)] = fetched.get(m.group(1), 0) + 1
    assert fetched, "no wheel downloads in the access log:\n" + log[-2000:]
    repeated = {k: v for k, v in fetched.items() if v > 1}
    assert not repeated, f"wheels downloaded more than once: {repeated}"
    lb.run("cache", "verify").ok()


# --- pages at the edge of the limits: peak RSS stays under 256 MiB at the default limits ------

def test_deeply_nested_json_page_is_refused(lb, fault, tmp_path):
    """31 MiB of `[` inside a PEP 691 page: refused at a fixed depth, not one frame per byte
    (a 10 MB page used to take 692 MiB)."""
    r, env_dir = env_run(lb, tmp_path, fault.index_url("jsondeep"))
    check_refused(lb, r, tmp_path, env_dir, fault.index_url("jsondeep"), "nested deeper than 64")
    print(f"jsondeep: peak RSS {r.maxrss_kib} KiB")


def test_page_of_tiny_links_stops_at_the_file_limit(lb, fault, tmp_path):
    """31 MiB of `<a href=x>` (3.3 million links): refused once 100,000 files are read, without
    building every tag first (60 MB used to take 916 MiB)."""
    r, env_dir = env_run(lb, tmp_path, fault.index_url("tinylinks"))
    check_refused(lb, r, tmp_path, env_dir, fault.index_url("tinylinks"), "more than 100000 files",
                  "LAVABUILD_MAX_PAGE_FILES")
    print(f"tinylinks: peak RSS {r.maxrss_kib} KiB")


def test_widest_page_within_the_limits(lb, fault, tmp_path):
    """31 MiB (the default page limit is 32 MiB) with 100,000 compatible wheels of ~325 bytes
    each: accepted by the limits, every file ranked, then no version matches; under 256 MiB."""
    r, env_dir = env_run(lb, tmp_path, fault.index_url("widelinks"), req="delta==99\n")
    check_refused(lb, r, tmp_path, env_dir, "delta")
    assert "LAVABUILD_MAX_PAGE" not in r.stderr, "the page is within the limits\n" + r.describe()
    assert len(fault.hits("widelinks")) == 1
    print(f"widelinks: peak RSS {r.maxrss_kib} KiB")


# --- a declared size caps a download; it never lifts or removes the cap ------------------------

def test_json_page_declaring_size_zero_allows_no_bytes(lb, fault, tmp_path):
    """`"size": 0` on a JSON page used to mean "no limit": an endless body was read."""
    r, env_dir = env_run(lb, tmp_path, fault.index_url("jsonsize0"), timeout=60)
    check_refused(lb, r, tmp_path, env_dir, fault.url("/jsonsize0/files/"), "larger than the limit of 0 bytes")
    assert not big_files(lb.cache_dir, 512 * 1024), "no part of the endless body may be kept"


def _lock_pointing_at_endless(lb, fault, tmp_path, size: int) -> Path:
    good = tmp_path / "reqs" / "pylock.toml"
    good.parent.mkdir(exist_ok=True)
    # Locked with another cache: the wheel must not be in the cache of the run under test.
    lb.run("lock", write(tmp_path / "req.txt", "delta==0.5\n"), "-o", good, "-i", fault.index_url("ok"),
           cache_dir=tmp_path / "reqs" / "lock-cache").ok()
    text = good.read_text()
    text, n = re.subn(r"size = \d+", f"size = {size}", text.replace("/ok/files/", "/endless/files/"))
    assert n == 1 and "/endless/files/" in text, text
    return write(tmp_path / "reqs" / "bad.pylock.toml", text)


@pytest.mark.parametrize("size", [0, 10 ** 12], ids=["size-0", "size-over-the-max"])
def test_lock_size_never_lifts_the_download_cap(lb, fault, tmp_path, size):
    """A lock's `size = 0` allows 0 bytes; a size above LAVABUILD_MAX_DOWNLOAD_SIZE is cut there."""
    bad = _lock_pointing_at_endless(lb, fault, tmp_path, size)
    env_dir = tmp_path / "env"
    r = lb.run("env", bad, "-o", env_dir, env={"LAVABUILD_MAX_DOWNLOAD_SIZE": "1M"}, timeout=60)
    limit = "0 bytes" if size == 0 else f"{1 << 20} bytes"
    check_refused(lb, r, tmp_path, env_dir, fault.url("/endless/files/"), f"larger than the limit of {limit}")
    if size:
        assert "LAVABUILD_MAX_DOWNLOAD_SIZE" in r.stderr, r.describe()
    assert not big_files(lb.cache_dir, 512 * 1024), "no part of the endless body may be kept"


def test_hash_pin_is_checked_before_the_store(lb, basic, tmp_path):
    """`name @ file://... --hash=sha256:<wrong>`: the pin is checked on the temp file, so a
    (here root-only) local file with the wrong hash never becomes a world-readable blob."""
    local = tmp_path / "local"
    local.mkdir()
    wheel = local / basic.wheel("delta-0.5").name
    shutil.copy(basic.wheel("delta-0.5"), wheel)
    os.chmod(wheel, 0o600)
    sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    req_file = write(tmp_path / "req.txt", f"delta @ file://{wheel} --hash=sha256:{'2' * 64}\n")
    env_dir = tmp_path / "env"
    r = lb.run("env", req_file, "-o", env_dir, "--no-index")
    check_refused(lb, r, tmp_path, env_dir, "hash mismatch", str(wheel), "sha256:" + "2" * 64, sha,
                  f"{req_file}:1")
    assert sha not in blobs(lb.cache_dir), "a file failing its --hash entered the store"


def test_hash_pin_is_checked_on_downloads_without_index_hashes(lb, fault, tmp_path):
    """An index giving no hash and a wrong --hash pin: the download is checked against the pin
    before it enters the store."""
    r, env_dir = env_run(lb, tmp_path, fault.index_url("nohash"), req=f"delta==0.5 --hash=sha256:{'3' * 64}\n")
    check_refused(lb, r, tmp_path, env_dir, "hash mismatch", fault.url("/nohash/files/"), "sha256:" + "3" * 64,
                  fault.wheel_sha, f"{tmp_path / 'req.txt'}:1")
    assert fault.wheel_sha not in blobs(lb.cache_dir), "a download failing its --hash entered the store"
