"""Differential: the same requirements installed by pip and by lavabuild give the same files.

pip runs from Debian's pip wheel inside a `venv --without-pip`, so neither env holds pip's own
files unless they were asked for. Compared: every file and symlink outside the venv skeleton
(bin/python*, activate scripts, pyvenv.cfg, lib64, .lavabuild), byte-for-byte after replacing
each env's own path with <ENV>; exec bits; RECORD as a set of (path, hash, size) rows (without
INSTALLER/RECORD rows; rows of files that embed the env path compare by path); INSTALLER and
direct_url.json are not compared by content. Both compile bytecode by default, as pip does: the
__pycache__/*.pyc files must be the same set (their bytes embed the source mtime, which differs);
--no-compile gives none in both."""
from __future__ import annotations

import csv
import io
import os
import stat
from pathlib import Path

import pytest
from lbtest import PY_WHEELS, REPO, make_venv, missing_prerequisite, pip, site_packages, write

SKELETON_BIN = ("python", "activate", "Activate.ps1")
NO_CONTENT = ("INSTALLER", "direct_url.json")


def env_files(env_dir: Path) -> dict:
    """relpath -> absolute path for files/symlinks that packages put into the env."""
    out = {}
    for dp, dns, fns in os.walk(env_dir):
        rel_dir = os.path.relpath(dp, env_dir)
        dns[:] = [d for d in dns if d != ".lavabuild" and not (rel_dir == "." and d == "lib64")]
        for fn in fns + [d for d in dns if os.path.islink(os.path.join(dp, d))]:
            rel = os.path.normpath(os.path.join(rel_dir, fn))
            if rel == "pyvenv.cfg":
                continue
            if rel_dir == "bin" and fn.startswith(SKELETON_BIN):
                continue
            out[rel] = Path(dp) / fn
    return out


def is_compiled(rel: str) -> bool:
    """Bytecode in a __pycache__ dir: compared by presence (pip's records the source's mtime)."""
    return "/__pycache__/" in "/" + rel and rel.endswith(".pyc")


def record_rows(path: Path, env_dir: Path, sp: Path) -> set:
    rows = set()
    for row in csv.reader(io.StringIO(path.read_text())):
        if not row:
            continue
        p, h, size = (row + ["", ""])[:3]
        base = p.rsplit("/", 1)[-1]
        if base in ("INSTALLER", "RECORD"):
            continue
        target = (sp / p).resolve()
        if h and target.is_file() and str(env_dir).encode() in target.read_bytes():
            h = size = "<embeds env path>"
        rows.add((p, h, size))
    return rows


def normalized(data: bytes, env_dir: Path) -> bytes:
    for form in {str(env_dir), os.path.realpath(env_dir)}:
        data = data.replace(form.encode(), b"<ENV>")
    return data


def compare_envs(pip_env: Path, lb_env: Path) -> list:
    diffs = []
    a, b = env_files(pip_env), env_files(lb_env)
    for rel in sorted(set(a) - set(b)):
        diffs.append(f"only pip installed: {rel}")
    for rel in sorted(set(b) - set(a)):
        diffs.append(f"only lavabuild installed: {rel}")
    sp_a, sp_b = site_packages(pip_env), site_packages(lb_env)
    for rel in sorted(set(a) & set(b)):
        fa, fb = a[rel], b[rel]
        if fa.is_symlink() or fb.is_symlink():
            if not (fa.is_symlink() and fb.is_symlink() and os.readlink(fa) == os.readlink(fb)):
                diffs.append(f"symlink differs: {rel}")
            continue
        xa = bool(fa.stat().st_mode & stat.S_IXUSR)
        xb = bool(fb.stat().st_mode & stat.S_IXUSR)
        if xa != xb:
            diffs.append(f"exec bit differs: {rel} (pip {xa}, lavabuild {xb})")
        name = rel.rsplit("/", 1)[-1]
        if name in NO_CONTENT or is_compiled(rel):
            continue
        if name == "RECORD" and ".dist-info" in rel:
            ra, rb = record_rows(fa, pip_env, sp_a), record_rows(fb, lb_env, sp_b)
            if ra != rb:
                diffs.append(f"RECORD differs: {rel}: pip-only {sorted(ra - rb)[:5]} "
                             f"lavabuild-only {sorted(rb - ra)[:5]}")
            continue
        ca, cb = normalized(fa.read_bytes(), pip_env), normalized(fb.read_bytes(), lb_env)
        if ca != cb:
            diffs.append(f"content differs: {rel}\n  pip:       {ca[:300]!r}\n  lavabuild: {cb[:300]!r}")
    return diffs


def check_record_hashes(env_dir: Path) -> list:
    """Every RECORD row in lavabuild's env matches the file on disk (independent check)."""
    import base64
    import hashlib
    bad = []
    sp = site_packages(env_dir)
    for rec in sp.glob("*.dist-info/RECORD"):
        for row in csv.reader(io.StringIO(rec.read_text())):
            if len(row) < 3 or not row[1]:
                continue
            f = (sp / row[0])
            if not f.is_file():
                bad.append(f"{rec.parent.name}: RECORD lists missing {row[0]}")
                continue
            data = f.read_bytes()
            algo, _, want = row[1].partition("=")
            got = base64.urlsafe_b64encode(hashlib.new(algo, data).digest()).rstrip(b"=").decode()
            if got != want or str(len(data)) != row[2]:
                bad.append(f"{rec.parent.name}: RECORD row for {row[0]} does not match the file")
    return bad


def install_both(lb, tmp_path, environ, test_python, req: Path, *opts):
    pip_env, lb_env = tmp_path / "pip-env", tmp_path / "lb-env"
    make_venv(test_python, pip_env, environ)
    pip(pip_env / "bin" / "python", "install", *opts, "-r", req, environ=environ).ok()
    lb.env_json(req, "-o", lb_env, *opts)
    return pip_env, lb_env


def assert_same(pip_env, lb_env, environ):
    diffs = compare_envs(pip_env, lb_env)
    assert not diffs, f"{len(diffs)} differences between pip and lavabuild:\n" + "\n".join(diffs[:40])
    bad = check_record_hashes(lb_env)
    assert not bad, "\n".join(bad[:20])
    r = pip(lb_env / "bin" / "python", "check", environ=environ)
    assert r.returncode == 0, "pip check in lavabuild's env:\n" + r.describe()


def test_basic_corpus_matches_pip(lb, basic, tmp_path, environ, test_python):
    req = tmp_path / "req.txt"
    req.write_text((basic.files / "requirements.txt").read_text())
    pip_env, lb_env = install_both(lb, tmp_path, environ, test_python, req, "--no-index", "-f", basic.files)
    assert_same(pip_env, lb_env, environ)


def test_basic_corpus_matches_pip_no_compile(lb, basic, tmp_path, environ, test_python):
    req = tmp_path / "req.txt"
    req.write_text((basic.files / "requirements.txt").read_text())
    pip_env, lb_env = install_both(lb, tmp_path, environ, test_python, req, "--no-compile", "--no-index",
                                   "-f", basic.files)
    assert_same(pip_env, lb_env, environ)
    assert not [p for p in lb_env.rglob("*.pyc")], "--no-compile left bytecode in the env"


def test_debian_wheels_match_pip(lb, tmp_path, environ, test_python):
    if not PY_WHEELS.is_dir():
        missing_prerequisite(f"no {PY_WHEELS}: apt-get install python3-pip-whl python3-setuptools-whl")
    req = write(tmp_path / "req.txt", "pip\nsetuptools\nwheel\n")
    pip_env, lb_env = install_both(lb, tmp_path, environ, test_python, req, "--no-index", "-f", PY_WHEELS)
    assert_same(pip_env, lb_env, environ)
    # the installed pip must run from lavabuild's env
    out = (lb_env / "bin" / "pip")
    assert out.is_file() and os.access(out, os.X_OK)


def test_webapp_example_matches_pip(lb, tmp_path, environ, test_python):
    req = REPO / "examples" / "webapp" / "requirements.txt"
    pip_env, lb_env = install_both(lb, tmp_path, environ, test_python, req)
    assert_same(pip_env, lb_env, environ)


def test_seed_gives_working_pip(lb, basic, tmp_path, environ):
    """`env --seed` adds pip to the env (as `python -m venv` does); pip check is clean."""
    req = write(tmp_path / "req.txt", "alpha==1.0\n")
    env_dir = tmp_path / "env"
    lb.env_json(req, "-o", env_dir, "--seed", "--no-index", "-f", basic.files, "-f", PY_WHEELS)
    from lbtest import run
    r = run([env_dir / "bin" / "python", "-m", "pip", "check"], env=environ)
    assert r.returncode == 0 and "No broken requirements" in r.stdout, r.describe()
