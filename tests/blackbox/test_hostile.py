"""Hostile wheels are refused with a message naming the member; nothing escapes the env."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from lbtest import snapshot, write

ABS_CANARY = Path("/tmp/lavabuild-hostile-canary")

# wheel name -> text the error must contain (the offending member, or the bad field)
CASES = {
    "traversal": "traversal_pwned.txt",
    "abspath": "abspath_pwned.txt",
    "symlinkesc": "escape_link",
    "badhash": "tampered.py",
    "badsize": "wrongsize.py",
    "missingrecord": "unlisted.py",
    "duplicate": "twice.py",
    "futurewheel": "2.0",
    # members on paths lavabuild writes itself (issue 6, point 1)
    "colrecord": "colrecord-1.0.data/purelib/colrecord-1.0.dist-info/RECORD",
    "colinstaller": "colinstaller-1.0.data/platlib/colinstaller-1.0.dist-info/INSTALLER",
    "colstate": "colstate-1.0.data/data/.lavabuild/stamp",
    "colmanifest": "colmanifest-1.0.data/data/.lavabuild/manifest.json",
    "colvenv": "colvenv-1.0.data/data/pyvenv.cfg",
    "colpython": "colpython-1.0.data/scripts/python3",
    "colscript": "colscript-1.0.data/data/bin/colscript-run",
    # zip bombs and size limits (point 5): refused from the central directory
    "bomb": "LAVABUILD_MAX_COMPRESSION_RATIO",
    "bombfour": "LAVABUILD_MAX_COMPRESSION_RATIO",
    "bigmember": "LAVABUILD_MAX_MEMBER_SIZE",
    "bigwheel": "LAVABUILD_MAX_WHEEL_SIZE",
    # point 10
    "fifo": "a FIFO",
    "nonutf8": "nonutf8/bad\\xff\\xfe_name_zzz.py",
}
# more text the error must contain
ALSO = {
    "bomb": "bomb/member0.bin", "bombfour": "bombfour/member0.bin",
    "bigmember": "bigmember/member0.bin", "fifo": "fifo/named_pipe", "nonutf8": "not valid UTF-8",
}
# limits lowered so the case stays small
LIMITS = {
    "bigmember": {"LAVABUILD_MAX_MEMBER_SIZE": "1M"},
    "bigwheel": {"LAVABUILD_MAX_WHEEL_SIZE": "3M"},
}
MAX_RSS_KIB = 256 * 1024

# Hostile but valid: installs quickly in bounded memory, and `verify` passes right after.
INSTALLABLE = {
    "folded": None,          # a 2 MB METADATA header in 700,000 folds (took 44-114 s)
    "manyextras": None,      # 50,000 Provides-Extra and Requires-Dist lines
    "longline": None,        # an 8 MB header line
    "pycache": "lib/python*/site-packages/pycache/__pycache__/__init__.cpython-311.pyc",
    "lib64data": "lib/lib64data-extra.txt",
}


def pwned_files(root: Path) -> list:
    return [str(p) for p in root.rglob("*pwned*")] if root.exists() else []


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_wheel_refused(lb, hostile, basic, tmp_path, name):
    shutil.rmtree(ABS_CANARY, ignore_errors=True)
    work = tmp_path / "work"
    (work / "canary").mkdir(parents=True)
    (tmp_path / "canary").mkdir()
    # Another env of the same cache must not change: it shares stored files (the empty file's
    # blob above all) that a write through a link would reach.
    other = tmp_path / "other"
    lb.env_json(write(tmp_path / "good.txt", "delta==0.5\n"), "-o", other, "--no-index", "-f", basic.files)
    before = snapshot(other)
    env_dir = work / "env"
    req = write(tmp_path / "req.txt", f"{name}==1.0\n")
    r = lb.run("env", req, "-o", env_dir, "--no-index", "-f", hostile.files, env=LIMITS.get(name), timeout=120)
    r.fails(1)
    assert CASES[name] in r.stderr, f"error must name the bad member/field {CASES[name]!r}\n" + r.describe()
    assert ALSO.get(name, "") in r.stderr, f"error must say {ALSO.get(name)!r}\n" + r.describe()
    assert name in r.stderr, "error must name the wheel\n" + r.describe()
    assert "Traceback" not in r.stderr and "exception" not in r.stderr.lower(), r.describe()
    assert r.maxrss_kib <= MAX_RSS_KIB, f"peak RSS {r.maxrss_kib} KiB\n" + r.describe()
    assert snapshot(other) == before, "another env sharing the cache changed"
    lb.run("verify", other).ok()
    assert not env_dir.exists(), "no env may be left behind"
    escaped = pwned_files(tmp_path) + pwned_files(ABS_CANARY) + pwned_files(Path("/tmp/canary"))
    assert not escaped, f"hostile wheel wrote outside the env: {escaped}"
    assert not any((work / "canary").iterdir()) and not any((tmp_path / "canary").iterdir())
    lb.run("cache", "verify").ok()


def test_hostile_wheel_does_not_poison_later_runs(lb, hostile, basic, tmp_path, environ):
    """After refusing a hostile wheel, the same cache still builds a good env."""
    lb.run("env", write(tmp_path / "bad.txt", "badhash==1.0\n"), "-o", tmp_path / "bad",
           "--no-index", "-f", hostile.files).fails(1)
    good = tmp_path / "good"
    lb.env_json(write(tmp_path / "good.txt", "delta==0.5\n"), "-o", good, "--no-index", "-f", basic.files)
    from lbtest import run
    run([good / "bin" / "python", "-c", "import delta"], env=environ).ok()
    lb.run("cache", "verify").ok()


@pytest.mark.parametrize("name", sorted(INSTALLABLE))
def test_hostile_but_valid_wheel_installs_and_verifies(lb, hostile, tmp_path, name):
    env_dir = tmp_path / "env"
    req = write(tmp_path / "req.txt", f"{name}==1.0\n")
    # Linear parsing takes well under a second (the quadratic one took 44 s for "folded");
    # the timeout only guards against a hang.
    r = lb.run("env", req, "-o", env_dir, "--no-index", "-f", hostile.files, timeout=120).ok()
    assert r.maxrss_kib <= MAX_RSS_KIB, f"peak RSS {r.maxrss_kib} KiB\n" + r.describe()
    if INSTALLABLE[name]:
        assert list(env_dir.glob(INSTALLABLE[name])), f"{INSTALLABLE[name]} not installed"
    lb.run("verify", env_dir).ok()
    assert not list(tmp_path.glob("env.tmp*")), "leftovers beside the env"
    lb.run("cache", "verify").ok()
