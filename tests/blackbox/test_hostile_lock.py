"""Hostile or broken pylock.toml files are refused with a message naming the lock file and the
package (issue 6, point 7); nothing is installed and the cache still verifies."""
from __future__ import annotations

import re

import pytest
from lbtest import write

MAX_RSS_KIB = 256 * 1024


def _sub(pattern, repl):
    def edit(text: str) -> str:
        new, n = re.subn(pattern, repl, text, count=1, flags=re.M)
        assert n == 1, f"fixture lock does not match {pattern!r}:\n{text}"
        return new
    return edit


# case -> (edit of a good lock of delta==0.5, texts the error must contain)
CASES = {
    "traversal_name": (_sub(r'^name = "delta"', 'name = "../x"'),
                       ['name "../x" is not a valid package name']),
    "name_mismatch": (_sub(r'^name = "delta"', 'name = "zeta"'),
                      ["package 'zeta' 0.5", "is a file of delta, not of zeta"]),
    "bad_marker": (_sub(r'^(version = "0.5")$', '\\1\nmarker = "python_version >>> \'3\'"'),
                   ["package 'delta' 0.5", "'marker' is not a valid marker"]),
    "negative_size": (_sub(r"size = \d+", "size = -1"), ["package 'delta' 0.5", "'size' -1 is negative"]),
    "float_size": (_sub(r"size = \d+", "size = 1.5e30"), ["package 'delta' 0.5", "'size' must be a whole number"]),
    "huge_size": (_sub(r"size = \d+", "size = 99999999999999999999"), ["invalid TOML"]),
    "file_url": (_sub(r'url = "[^"]+"', 'url = "file:///etc/shadow"'),
                 ["package delta names a local file by URL", "path ="]),
    "wheel_path_name": (_sub(r'name = "(delta-[^"]+\.whl)"', 'name = "../\\1"'),
                        ["package 'delta' 0.5", "must be a plain file name"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_lock_refused(lb, basic, tmp_path, case):
    good = tmp_path / "pylock.toml"
    lb.run("lock", write(tmp_path / "req.txt", "delta==0.5\n"), "-o", good, "-i", basic.index_url).ok()
    edit, needles = CASES[case]
    bad = write(tmp_path / f"{case}.pylock.toml", edit(good.read_text()))
    env_dir = tmp_path / "env"
    r = lb.run("env", bad, "-o", env_dir, timeout=120)
    r.fails(1)
    assert f"{case}.pylock.toml" in r.stderr, "the error must name the lock file\n" + r.describe()
    for needle in needles:
        assert needle in r.stderr, f"the error must say {needle!r}\n" + r.describe()
    assert "Traceback" not in r.stderr and "runtime error" not in r.stderr, r.describe()
    assert r.maxrss_kib <= MAX_RSS_KIB
    assert not env_dir.exists(), "no env may be left behind"
    assert not list(tmp_path.glob("env.tmp*")), "leftovers beside the env"
    lb.run("cache", "verify").ok()


def test_lock_file_url_never_reaches_the_store(lb, basic, tmp_path):
    """A lock pointing at a root-only file: refused, and no blob of that file is kept."""
    good = tmp_path / "pylock.toml"
    lb.run("lock", write(tmp_path / "req.txt", "delta==0.5\n"), "-o", good, "-i", basic.index_url).ok()
    secret = write(tmp_path / "secret.whl", "root-only bytes\n")
    secret.chmod(0o600)
    text = re.sub(r'url = "[^"]+"', f'url = "file://{secret}"', good.read_text(), count=1)
    assert str(secret) in text
    bad = write(tmp_path / "bad.pylock.toml", text)
    lb.run("env", bad, "-o", tmp_path / "env").fails(1)
    import hashlib
    sha = hashlib.sha256(secret.read_bytes()).hexdigest()
    assert not list((lb.cache_dir / "blobs").rglob(sha + "*")), "the local file was copied into the store"
