"""Interruptions (issue 7 B5): SIGINT or SIGTERM during `lavabuild env` stops new work,
removes the run's temp directories, keeps finished downloads in the store, leaves the
existing env untouched, says what it kept and exits 128 + the signal."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lbtest import incompressible_wheel, TOOLS, file_sha, snapshot, write

sys.path.insert(0, str(Path(__file__).resolve().parent))
from faultserver import FaultServer  # noqa: E402


@pytest.fixture
def slow_wheel(tmp_path) -> Path:
    """slowpkg-1.0: 1 MiB of incompressible bytes (about 12 s at slowfile's pace)."""
    return incompressible_wheel(tmp_path / "wheels", "slowpkg", 1 << 20, 7)


def blob_names(cache_dir: Path) -> set:
    return {p.name.split(".")[0] for p in (cache_dir / "blobs").rglob("*") if p.is_file()}


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_stops_cleanly(lb, basic, slow_wheel, tmp_path, sig):
    target = tmp_path / "env"
    write(tmp_path / "old.txt", "alpha\n")
    lb.run("env", tmp_path / "old.txt", "-o", target, "-i", basic.index_url).ok()
    before = snapshot(target)
    req = write(tmp_path / "req.txt", "alpha\nzeta\nnative-ext\nslowpkg\n")
    with FaultServer(slow_wheel, trickle_s=0.05) as srv:
        p = lb.popen("env", req, "-o", target, "-i", basic.index_url,
                     "--extra-index-url", srv.index_url("slowfile"))
        deadline = time.monotonic() + 60
        # The whole-file GET (reading METADATA uses Range requests first).
        while "" not in srv.ranges_requested("slowfile"):
            assert p.poll() is None, "lavabuild ended before the slow download began:\n" + p.stderr.read()
            assert time.monotonic() < deadline, "the slow wheel was never requested"
            time.sleep(0.05)
        time.sleep(0.5)  # the fast downloads finish meanwhile
        sent = time.monotonic()
        p.send_signal(sig)
        try:
            out, err = p.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            raise AssertionError("lavabuild did not stop within 20 s of the signal")
        took = time.monotonic() - sent
    assert p.returncode == 128 + sig, f"exit {p.returncode}\n{err}"
    assert took < 5, f"stopping took {took:.1f} s"
    assert "interrupted: kept" in err and "left as it was" in err, err
    assert "Traceback" not in err and "internal error" not in err, err
    assert snapshot(target) == before, "the existing env changed"
    assert not list(tmp_path.glob("env.tmp-*")), "a temp env was left beside the target"
    assert not any((lb.cache_dir / "tmp").iterdir()), "the run's temp dir was left in the store"
    # Downloads that finished were kept: the zeta and native-ext wheels are blobs now.
    blobs = blob_names(lb.cache_dir)
    assert file_sha(basic.wheel("zeta")) in blobs, err
    assert file_sha(basic.wheel("native_ext")) in blobs, err
    assert file_sha(slow_wheel) not in blobs, "the unfinished download must not be a blob"
    lb.run("cache", "verify").ok()
    lb.run("verify", target).ok()
