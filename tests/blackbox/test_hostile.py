"""Hostile wheels are refused with a message naming the member; nothing escapes the env."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from lbtest import write

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
}


def pwned_files(root: Path) -> list:
    return [str(p) for p in root.rglob("*pwned*")] if root.exists() else []


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_wheel_refused(lb, hostile, tmp_path, name):
    shutil.rmtree(ABS_CANARY, ignore_errors=True)
    work = tmp_path / "work"
    (work / "canary").mkdir(parents=True)
    (tmp_path / "canary").mkdir()
    env_dir = work / "env"
    req = write(tmp_path / "req.txt", f"{name}==1.0\n")
    r = lb.run("env", req, "-o", env_dir, "--no-index", "-f", hostile.files)
    r.fails(1)
    assert CASES[name] in r.stderr, f"error must name the bad member/field {CASES[name]!r}\n" + r.describe()
    assert name in r.stderr, "error must name the wheel\n" + r.describe()
    assert "Traceback" not in r.stderr
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
