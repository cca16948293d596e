"""Bytecode (issue 7 B7): like pip, the env has __pycache__/*.pyc for every module, listed in
RECORD; lavabuild compiles each source once per interpreter into the store and links the pycs.

Checked here: which files get bytecode and RECORD rows (the full comparison with pip is in
test_differential.py), that Python uses the linked pycs without writing any, that an edit of a
source (through a hard link, or in a copied env) is never served stale bytecode, that tracebacks
name the env's own file, that envs share the pyc inodes, --no-compile, a module that does not
compile for this Python, and how verify and the next run treat bytecode."""
from __future__ import annotations

import csv
import importlib.util
import io
import os
from pathlib import Path

import make_fixtures
import pytest
from lbtest import run, site_packages, snapshot, write

MOD = b"VALUE = 1\n\ndef boom():\n    raise RuntimeError('boom from mod')\n"
PY2 = b"print 'this is Python 2'\n"


@pytest.fixture
def wheels(tmp_path) -> Path:
    out = tmp_path / "wheels"
    out.mkdir()
    make_fixtures.build_wheel(make_fixtures.Dist(
        "bcpkg", "1.0",
        files={"bcpkg/__init__.py": b"", "bcpkg/mod.py": MOD, "bcpkg/legacy.py": PY2,
               "bcpkg/data.txt": b"not python\n", "top_level_mod.py": b"X = 3\n"},
        data={("data", "share/bcpkg/tool.py"): b"Y = 4\n"}), str(out))
    make_fixtures.build_wheel(make_fixtures.Dist(
        "other", "2.0", files={"other/__init__.py": b"", "other/same.py": MOD}), str(out))
    return out


@pytest.fixture
def py_env(environ) -> dict:
    """Python allowed to write bytecode (the suite's default environment forbids it)."""
    e = dict(environ)
    e.pop("PYTHONDONTWRITEBYTECODE", None)
    return e


def build(lb, wheels, tmp_path, target, *extra) -> dict:
    req = write(tmp_path / "req.txt", "bcpkg==1.0\nother==2.0\n")
    return lb.env_json(req, "-o", target, "--no-index", "-f", wheels, *extra)


def cache_tag(python: str, environ) -> str:
    return run([python, "-c", "import sys; print(sys.implementation.cache_tag)"], env=environ).ok().stdout.strip()


def pyc_of(path: Path, tag: str) -> Path:
    return path.parent / "__pycache__" / f"{path.stem}.{tag}.pyc"


def record_rows(env: Path, dist_info: str) -> dict:
    text = (site_packages(env) / dist_info / "RECORD").read_text()
    return {row[0]: row[1:] for row in csv.reader(io.StringIO(text)) if row}


def test_every_module_has_bytecode_listed_in_record(lb, wheels, tmp_path, environ, test_python):
    env = tmp_path / "env"
    build(lb, wheels, tmp_path, env)
    tag, sp = cache_tag(test_python, environ), site_packages(env)
    compiled = [sp / "bcpkg/__init__.py", sp / "bcpkg/mod.py", sp / "top_level_mod.py",
                env / "share/bcpkg/tool.py", sp / "other/__init__.py", sp / "other/same.py"]
    for src in compiled:
        assert pyc_of(src, tag).is_file(), f"no bytecode for {src}"
    # A module that does not compile for this Python is skipped, as pip's compileall does.
    assert not pyc_of(sp / "bcpkg/legacy.py", tag).exists()
    assert [p.name for p in sp.rglob("*.pyc") if "bcpkg" in str(p)].count(f"data.{tag}.pyc") == 0
    rows = record_rows(env, "bcpkg-1.0.dist-info")
    for rel in ("bcpkg/__pycache__/__init__", "bcpkg/__pycache__/mod", "__pycache__/top_level_mod"):
        assert rows.get(f"{rel}.{tag}.pyc") == ["", ""], f"RECORD row of {rel}: {rows.get(rel)}"
    assert f"../../../share/bcpkg/__pycache__/tool.{tag}.pyc" in rows, sorted(rows)
    assert not any("legacy" in r and r.endswith(".pyc") for r in rows)
    lb.run("verify", env).ok()


def test_python_uses_the_linked_bytecode_and_writes_none(lb, wheels, tmp_path, py_env, test_python):
    env = tmp_path / "env"
    build(lb, wheels, tmp_path, env)
    sp = site_packages(env)
    before = snapshot(env)
    mtimes = {p: p.stat().st_mtime_ns for p in sp.rglob("*.pyc")}
    r = run([env / "bin" / "python", "-c", "import bcpkg.mod, top_level_mod, other.same; "
             "import importlib.util as u, bcpkg.mod as m; print(m.__cached__)"], env=py_env).ok()
    assert r.stdout.strip() == importlib.util.cache_from_source(str(sp / "bcpkg/mod.py")) or "__pycache__" in r.stdout
    assert snapshot(env) == before, "importing wrote or replaced bytecode: the linked pycs were not valid"
    assert {p: p.stat().st_mtime_ns for p in sp.rglob("*.pyc")} == mtimes


def test_traceback_names_the_env_file(lb, wheels, tmp_path, py_env):
    env = tmp_path / "env"
    build(lb, wheels, tmp_path, env)
    r = run([env / "bin" / "python", "-c", "import bcpkg.mod; bcpkg.mod.boom()"], env=py_env)
    assert r.returncode == 1
    src = site_packages(env) / "bcpkg" / "mod.py"
    assert f'File "{src}", line 4, in boom' in r.stderr, r.describe()
    assert "raise RuntimeError('boom from mod')" in r.stderr, "the source line must be shown\n" + r.describe()


def test_second_env_shares_the_bytecode_and_compiles_nothing(lb, wheels, tmp_path, test_python, environ):
    first, second = tmp_path / "a" / "env", tmp_path / "b" / "env"
    report = build(lb, wheels, tmp_path, first)
    assert [e for e in report["executed"] if e["kind"] == "compile"], report["executed"]
    report = build(lb, wheels, tmp_path, second)
    assert not [e for e in report["executed"] if e["kind"] == "compile"], \
        "the second env compiled again (a source that does not compile must be remembered too)"
    tag = cache_tag(test_python, environ)
    for rel in ("bcpkg/mod.py", "other/same.py", "top_level_mod.py"):
        a, b = pyc_of(site_packages(first) / rel, tag), pyc_of(site_packages(second) / rel, tag)
        assert a.stat().st_ino == b.stat().st_ino, f"{rel}: the envs do not share its pyc"
    # mod.py and other/same.py have the same content: one pyc serves both.
    sp = site_packages(first)
    assert pyc_of(sp / "bcpkg/mod.py", tag).stat().st_ino == pyc_of(sp / "other/same.py", tag).stat().st_ino


@pytest.mark.parametrize("mode", ["hardlink", "copy"])
def test_edited_source_is_never_served_stale_bytecode(lb, wheels, tmp_path, py_env, mode):
    env = tmp_path / "env"
    build(lb, wheels, tmp_path, env, "--link-mode", mode)
    src = site_packages(env) / "bcpkg" / "mod.py"
    if mode == "copy":
        assert src.stat().st_mtime == 1, "a copied source must have the stored mtime its pyc records"
        assert src.stat().st_nlink == 1
    before = snapshot(env)
    run([env / "bin" / "python", "-c", "import bcpkg.mod"], env=py_env).ok()
    assert snapshot(env) == before, "the pycs of a copied env are not valid"
    # Same size, new content, written in place (through the hard link into the store, if any).
    edited = MOD.replace(b"VALUE = 1", b"VALUE = 7")
    os.chmod(src, 0o644)
    with open(src, "r+b") as f:
        f.write(edited)
    r = run([env / "bin" / "python", "-c", "import bcpkg.mod; print(bcpkg.mod.VALUE)"], env=py_env).ok()
    assert r.stdout.strip() == "7", "Python used the stale bytecode of the edited source"
    # A write into an existing file changes no directory: no run sees it (engine/env_state.hpp),
    # `verify` does and --reinstall repairs it (all of it: through a hard link, other/same.py,
    # the same content, was written too); the repaired file gets valid bytecode again.
    r = lb.run("verify", env)
    r.fails(1)
    assert "mod.py" in r.output, r.describe()
    req = write(tmp_path / "again.txt", "other==2.0\nbcpkg==1.0\n")
    lb.run("env", req, "-o", env, "--no-index", "-f", wheels, "--link-mode", mode,
           "--reinstall").ok()
    assert src.read_bytes() == MOD
    before = snapshot(env)
    r = run([env / "bin" / "python", "-c", "import bcpkg.mod; print(bcpkg.mod.VALUE)"], env=py_env).ok()
    assert r.stdout.strip() == "1"
    assert snapshot(env) == before
    lb.run("verify", env).ok()


def test_no_compile(lb, wheels, tmp_path):
    env = tmp_path / "env"
    build(lb, wheels, tmp_path, env, "--no-compile")
    assert not list(env.rglob("*.pyc")) and not list(env.rglob("__pycache__"))
    assert not [r for r in record_rows(env, "bcpkg-1.0.dist-info") if r.endswith(".pyc")]
    lb.run("verify", env).ok()
    # Switching it on is a change of inputs, not a no-op.
    report = build(lb, wheels, tmp_path, env)
    assert list(env.rglob("*.pyc"))
    assert report["executed"], report
    lb.run("verify", env).ok()
    assert "--no-compile" in lb.run("env", "--help").ok().output


def test_verify_checks_compiled_bytecode_and_ignores_what_python_writes(lb, wheels, tmp_path, py_env, test_python, environ):
    env = tmp_path / "env"
    build(lb, wheels, tmp_path, env)
    # Bytecode Python writes at run time (another optimisation level) is not the env's.
    run([env / "bin" / "python", "-O", "-c", "import bcpkg.mod"], env=py_env).ok()
    assert list(site_packages(env).rglob("*.opt-1.pyc"))
    lb.run("verify", env).ok()
    r = lb.run("env", tmp_path / "req.txt", "-o", env, "--no-index", "-f", wheels).ok()
    assert "up to date" in r.stderr, r.describe()
    # The bytecode lavabuild compiled is part of the env: deleting it is a difference ...
    pyc = pyc_of(site_packages(env) / "bcpkg" / "mod.py", cache_tag(test_python, environ))
    pyc.unlink()
    r = lb.run("verify", env)
    r.fails(1)
    assert pyc.name in r.output, r.describe()
    # ... that --reinstall-package repairs (a change inside __pycache__ is seen by no run:
    # Python writes there at run time; engine/env_state.hpp).
    req = write(tmp_path / "more.txt", "bcpkg==1.0\n")
    lb.run("env", req, "-o", env, "--no-index", "-f", wheels, "--reinstall-package", "bcpkg").ok()
    assert pyc.is_file()
    lb.run("verify", env).ok()
