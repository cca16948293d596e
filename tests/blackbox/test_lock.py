"""PEP 751 lock files: lock, install exactly from them, verify, refuse tampering."""
from __future__ import annotations

import os
import re
import shutil
import stat
import sys
import tomllib
from pathlib import Path

import pytest

from lbtest import TOOLS, file_sha, normalize, run, site_packages, write

ALPHA_CLOSURE = {"alpha": "1.0", "beta": "1.0", "delta": "0.5", "gamma": "2.0", "zeta": "3.1"}


def lock(lb, tmp_path, basic, req_text="alpha==1.0\nbeta==1.0\n", name="pylock.toml", *opts, cache_dir=None):
    req = write(tmp_path / "req.txt", req_text)
    out = tmp_path / name
    args = opts or ("-i", basic.index_url)
    lb.run("lock", req, "-o", out, *args, cache_dir=cache_dir).ok()
    assert out.is_file(), f"lock did not write {out}"
    return req, out


def locked_packages(path: Path) -> dict:
    data = tomllib.loads(path.read_text())
    assert str(data.get("lock-version", "")).startswith("1."), f"lock-version: {data.get('lock-version')}"
    return {normalize(p["name"]): p for p in data["packages"]}


def test_lock_pins_closure_with_hashes(lb, basic, tmp_path):
    _, out = lock(lb, tmp_path, basic)
    pkgs = locked_packages(out)
    assert {n: p["version"] for n, p in pkgs.items()} == ALPHA_CLOSURE
    for name, p in pkgs.items():
        wheels = p.get("wheels") or []
        assert wheels, f"{name}: no wheels in lock"
        for w in wheels:
            fn = w.get("name") or os.path.basename(w.get("url") or w.get("path"))
            local = basic.files / fn
            assert w["hashes"]["sha256"] == file_sha(local), f"{name}: wrong sha256 in lock"
            if "size" in w:
                assert w["size"] == local.stat().st_size


def test_lock_is_deterministic(lb, basic, tmp_path):
    _, a = lock(lb, tmp_path, basic, name="a.toml")
    _, b = lock(lb, tmp_path, basic, name="b.toml", cache_dir=tmp_path / "other-cache")
    assert a.read_bytes() == b.read_bytes(), "locking the same requirements twice gave different bytes"


def test_same_lock_same_digest_on_two_caches(lb, basic, tmp_path, environ):
    _, out = lock(lb, tmp_path, basic)
    r1 = lb.env_json(out, "-o", tmp_path / "e1", cache_dir=tmp_path / "c1")
    # elsewhere: a path with a space (venv quotes it in the activate scripts)
    r2 = lb.env_json(out, "-o", tmp_path / "sp ace" / "e2", cache_dir=tmp_path / "c2")
    assert r1["digest"] == r2["digest"], "same lock gave different env digests"
    assert {normalize(p["name"]): p["version"] for p in r1["packages"]} == ALPHA_CLOSURE
    for e in ("e1", "sp ace/e2"):
        run([tmp_path / e / "bin" / "alpha-cli"], env=environ).ok()
        lb.run("verify", tmp_path / e).ok()


def test_verify_names_every_change(lb, basic, tmp_path):
    _, out = lock(lb, tmp_path, basic)
    env_dir = tmp_path / "env"
    lb.env_json(out, "-o", env_dir)
    lb.run("verify", env_dir).ok()
    sp = site_packages(env_dir)
    changed, removed, added, moded = sp / "delta/__init__.py", sp / "zeta/sub/mod.py", \
        sp / "zeta/added_by_hand.py", sp / "gamma/__init__.py"
    with open(changed, "a") as f:  # in place: the worst case for hard-linked envs
        f.write("# edited\n")
    removed.unlink()
    added.write_text("X = 1\n")
    os.chmod(moded, moded.stat().st_mode | stat.S_IXUSR)
    r = lb.run("verify", env_dir)
    assert r.returncode != 0, "verify passed on a modified env\n" + r.describe()
    for p in (changed, removed, added, moded):
        rel = os.path.relpath(p, sp)
        assert rel in r.output, f"verify does not name {rel}\n" + r.describe()
    rj = lb.run("verify", env_dir, "--json")
    assert rj.returncode != 0
    text = str(rj.json())
    for name in ("delta/__init__.py", "zeta/sub/mod.py", "added_by_hand.py", "gamma/__init__.py"):
        assert name in text, f"verify --json does not name {name}: {text[:1000]}"


def _tamper(out: Path, pattern: str, repl: str) -> Path:
    text = out.read_text()
    new, n = re.subn(pattern, repl, text, count=1)
    assert n == 1, f"pattern {pattern!r} not in lock:\n{text[:2000]}"
    bad = out.parent / "tampered" / "pylock.toml"
    return write(bad, new)


def test_lock_with_wrong_hash_refused(lb, basic, tmp_path):
    _, out = lock(lb, tmp_path, basic)
    good = file_sha(basic.wheel("delta-0.5"))
    wrong = "0" * 64
    bad = _tamper(out, good, wrong)
    r = lb.run("env", bad, "-o", tmp_path / "env", cache_dir=tmp_path / "fresh-cache")
    r.fails(1)
    assert "delta" in r.stderr and (wrong in r.stderr or "hash" in r.stderr.lower()), r.describe()
    assert not (tmp_path / "env").exists()


def test_lock_with_unknown_version_refused(lb, basic, tmp_path):
    _, out = lock(lb, tmp_path, basic)
    bad = _tamper(out, r'lock-version\s*=\s*"[^"]*"', 'lock-version = "9.0"')
    r = lb.run("env", bad, "-o", tmp_path / "env")
    r.fails(1)
    assert "lock-version" in r.stderr and "9.0" in r.stderr, r.describe()
    assert not (tmp_path / "env").exists()


def test_lock_with_missing_file_refused(lb, basic, tmp_path):
    wheels = tmp_path / "wheels"
    shutil.copytree(basic.files, wheels)
    _, out = lock(lb, tmp_path, basic, "alpha==1.0\nbeta==1.0\n", "pylock.toml", "--no-index", "-f", wheels)
    (wheels / "delta-0.5-py3-none-any.whl").unlink()
    r = lb.run("env", out, "-o", tmp_path / "env", cache_dir=tmp_path / "fresh-cache")
    r.fails(1)
    assert "delta-0.5-py3-none-any.whl" in r.stderr, r.describe()
    assert not (tmp_path / "env").exists()


def test_env_locked_checks_requirements(lb, basic, tmp_path, environ):
    req, out = lock(lb, tmp_path, basic)
    env_dir = tmp_path / "env"
    lb.env_json(req, "--locked", out, "-o", env_dir, "-i", basic.index_url)
    run([env_dir / "bin" / "alpha-cli"], env=environ).ok()
    req.write_text(req.read_text() + "eta==1.0\n")
    r = lb.run("env", req, "--locked", out, "-o", tmp_path / "env2", "-i", basic.index_url)
    r.fails(1)
    assert "eta" in r.stderr or "pylock" in r.stderr, r.describe()
    assert not (tmp_path / "env2").exists()
    # A lock with packages the requirements no longer reach would change: refused too.
    fewer = write(tmp_path / "fewer.txt", "beta==1.0\n")
    r = lb.run("env", fewer, "--locked", out, "-o", tmp_path / "env3", "-i", basic.index_url).fails(1)
    assert "the lock pins alpha" in r.stderr and "no longer need" in r.stderr, r.describe()
    assert not (tmp_path / "env3").exists()


@pytest.mark.parametrize("groups, installed", [("[]", False), ('["dev"]', True)])
def test_lock_markers_on_dependency_groups_select_packages(lb, basic, tmp_path, environ, groups, installed):
    """PEP 751: a package marked `"dev" in dependency_groups` is installed only when the
    lock's default-groups name it; `"x" in extras` is false with no extras requested."""
    lock = tmp_path / "pylock.toml"
    lb.run("lock", write(tmp_path / "req.txt", "delta==0.5\nzeta\nMixed_Case.Name\n"), "-o", lock,
           "--no-index", "-f", basic.files).ok()
    text = lock.read_text()
    text = text.replace('name = "zeta"\n', 'name = "zeta"\nmarker = "\'dev\' in dependency_groups"\n', 1)
    text = text.replace('name = "mixed-case-name"\n',
                        'name = "mixed-case-name"\nmarker = "\'web\' in extras"\n', 1)
    text = text.replace('created-by = "lavabuild"\n', f'created-by = "lavabuild"\ndefault-groups = {groups}\n', 1)
    assert text.count("marker =") == 2, text
    edited = write(tmp_path / "edited" / "pylock.toml", text)
    env_dir = tmp_path / "env"
    rep = lb.env_json(edited, "-o", env_dir)
    names = {p["name"] for p in rep["packages"]}
    assert "delta" in names
    assert ("zeta" in names) == installed, rep["packages"]
    assert "mixed-case-name" not in names, rep["packages"]
    lb.run("verify", env_dir).ok()


# ------------------------------------------------------------------ locking without downloads
LOG_LINE = re.compile(r'"(GET|HEAD) (\S+) HTTP/[\d.]+" (\d+) ')


def wheel_requests(log: Path) -> dict:
    """"GET" (full 200 downloads), "HEAD", "range" (206) -> paths of wheel files requested."""
    seen: dict = {"GET": [], "HEAD": [], "range": []}
    for line in log.read_text().splitlines():
        m = LOG_LINE.search(line)
        if m and m.group(2).endswith(".whl"):
            kind = "range" if m.group(3) == "206" else m.group(1)
            seen[kind].append(m.group(2))
    return seen


def test_cold_lock_downloads_no_wheel_and_matches_a_warm_lock(lb, served_root, tmp_path, environ):
    sys.path.insert(0, str(TOOLS))
    import serve_index  # noqa: E402
    req = write(tmp_path / "req.txt", "alpha\ndelta==0.5\nzeta\nnative-ext\nMixed_Case.Name\n")
    # An nginx of its own: its access log holds only this test's requests.
    with serve_index.Nginx(str(served_root)) as ngx:
        url = ngx.url("/basic/simple")
        cold = tmp_path / "cold.toml"
        lb.run("lock", req, "-o", cold, "-i", url, cache_dir=tmp_path / "cold-cache").ok()
        seen = wheel_requests(Path(ngx.access_log))
        assert not seen["GET"], f"a cold lock downloaded wheels: {seen['GET']}"
        assert seen["HEAD"], "no HEAD request: where did the sizes come from?"
        # The same lock from a store that holds every wheel (their bytes hashed and measured).
        warm_cache = tmp_path / "warm-cache"
        lb.run("env", req, "-o", tmp_path / "warm-env", "-i", url, cache_dir=warm_cache).ok()
        warm = tmp_path / "warm.toml"
        lb.run("lock", req, "-o", warm, "-i", url, cache_dir=warm_cache).ok()
        assert cold.read_text() == warm.read_text(), "the cold lock differs from the warm one"
        pkgs = locked_packages(cold)
        assert len(pkgs) >= 5 and all(p["wheels"][0]["size"] > 0 for p in pkgs.values())
        # Installing from it downloads the wheels and checks each hash and size against them.
        env_dir = tmp_path / "from-cold"
        lb.env_json(cold, "-o", env_dir, cache_dir=tmp_path / "install-cache")
        lb.run("verify", env_dir).ok()
        assert wheel_requests(Path(ngx.access_log))["GET"], "the install downloaded nothing"


def test_cold_lock_size_from_index_is_checked_on_install(lb, served_root, tmp_path):
    """A lock whose size (taken from HEAD, not the bytes) is wrong is refused at install."""
    sys.path.insert(0, str(TOOLS))
    import serve_index  # noqa: E402
    req = write(tmp_path / "req.txt", "delta==0.5\n")
    with serve_index.Nginx(str(served_root)) as ngx:
        out = tmp_path / "pylock.toml"
        lb.run("lock", req, "-o", out, "-i", ngx.url("/basic/simple")).ok()
        size = locked_packages(out)["delta"]["wheels"][0]["size"]
        bad = _tamper(out, rf"size = {size}\b", f"size = {size + 1}")
        r = lb.run("env", bad, "-o", tmp_path / "env")
        assert r.returncode != 0 and "size mismatch" in r.stderr, r.describe()
