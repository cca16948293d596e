"""Eight lavabuild processes on one cache at once: same and different targets, with and
without separate PID namespaces, cold then warm. Every run succeeds, the store verifies after
each round, every env verifies, and each wheel is downloaded once (nginx's access log)."""
from __future__ import annotations

import collections
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from lbtest import TOOLS, missing_prerequisite, write

sys.path.insert(0, str(TOOLS))
import serve_index  # noqa: E402

REQS = "alpha\ndelta==0.5\nzeta\nnative-ext\nMixed_Case.Name\nns-pkg-a\nns-pkg-b\n"
LOG_LINE = re.compile(r'"(GET|HEAD) (\S+) HTTP/[\d.]+" (\d+) ')


def unshare_works() -> bool:
    if not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "--pid", "--fork", "true"], capture_output=True).returncode == 0


def wheel_downloads(log: Path) -> collections.Counter:
    """path -> full (200) GETs of wheel files."""
    count: collections.Counter = collections.Counter()
    for line in log.read_text().splitlines():
        m = LOG_LINE.search(line)
        if m and m.group(1) == "GET" and m.group(3) == "200" and m.group(2).endswith(".whl"):
            count[m.group(2)] += 1
    return count


def run_round(lb, req: Path, index_url: str, targets: list, namespaces: bool) -> list:
    procs = []
    for i, target in enumerate(targets):
        argv = lb.argv("env", req, "-o", target, "-i", index_url)
        if namespaces:
            argv = ["unshare", "--pid", "--fork", "--mount-proc", *argv]
        procs.append((argv, subprocess.Popen(argv, env=lb.environ, stdout=subprocess.PIPE,
                                             stderr=subprocess.PIPE, text=True)))
    results = []
    for argv, p in procs:
        out, err = p.communicate(timeout=600)
        results.append((argv, p.returncode, out, err))
    return results


@pytest.mark.parametrize("namespaces", [False, True], ids=["one-pid-namespace", "own-pid-namespaces"])
def test_eight_processes_one_cache(lb, served_root, tmp_path, namespaces):
    if namespaces and not unshare_works():
        missing_prerequisite("`unshare --pid --fork` (needs root or user namespaces)")
    req = write(tmp_path / "req.txt", REQS)
    # Four runs build the same target, four build one each.
    targets = [tmp_path / "same" if i % 2 == 0 else tmp_path / f"env{i}" for i in range(8)]
    with serve_index.Nginx(str(served_root)) as nginx:
        index_url = nginx.url("/basic/simple")
        for round_name in ("cold", "warm"):
            for argv, rc, out, err in run_round(lb, req, index_url, targets, namespaces):
                assert rc == 0, f"{round_name} round: {' '.join(argv)} exited {rc}\n{err[-3000:]}"
                for line in err.splitlines():
                    assert "error" not in line.lower(), f"{round_name} round: {line}"
            lb.run("cache", "verify").ok()
            for target in sorted(set(targets)):
                lb.run("verify", target).ok()
                assert not list(tmp_path.glob(target.name + ".tmp-*")), "a temp env was left behind"
            downloads = wheel_downloads(Path(nginx.access_log))
            again = {path: n for path, n in downloads.items() if n > 1}
            assert not again, f"{round_name} round: wheels downloaded more than once: {again}"
        assert downloads, "no wheel was downloaded at all: the test did not exercise the server"
    stats = lb.run("cache", "stats", "--json").ok().json()
    assert stats["leftovers"] == 0, stats
    assert not any((lb.cache_dir / "tmp").iterdir()), "temp files left in the store"
