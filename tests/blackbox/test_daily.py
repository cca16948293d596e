"""Daily use (issue 7, B1 B3 B4): drift behind lavabuild's back is noticed and repaired, a venv
another tool made is taken over, and a small change touches only what changed, through a
journal that a killed run leaves for the next one to finish.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from lbtest import make_venv, pip, run, site_packages, snapshot, write


def basic_req(tmp_path: Path, basic, beta="1.0", extra="") -> Path:
    text = (basic.files / "requirements.txt").read_text().replace("beta==1.0", f"beta=={beta}")
    return write(tmp_path / "req.txt", text + extra)


def linked_packages(report) -> set:
    return {e["package"] for e in report["executed"] if e["kind"] == "link"}


def verify_ok(lb, env: Path) -> None:
    r = lb.run("verify", env)
    assert r.returncode == 0, r.describe()


# ------------------------------------------------------------------ B4: small changes

def test_one_package_change_touches_only_that_package(lb, basic, tmp_path):
    env = tmp_path / "env"
    lb.env_json(basic_req(tmp_path, basic), "-o", env, "-i", basic.index_url)
    before = snapshot(env, skip={".lavabuild"})
    env_inode = os.stat(env).st_ino

    rep = lb.env_json(basic_req(tmp_path, basic, beta="1.1"), "-o", env, "-i", basic.index_url)
    assert linked_packages(rep) == {"beta"}, rep["executed"]
    assert rep["changed"] == [{"name": "beta", "from": "1.0", "to": "1.1"}]
    assert os.stat(env).st_ino == env_inode, "the env was rebuilt, not changed in place"
    after = snapshot(env, skip={".lavabuild"})
    sp = os.path.relpath(site_packages(env), env)
    for rel, entry in before.items():
        if "beta" in rel or entry[0] == "dir":
            continue
        assert after.get(rel) == entry, f"{rel} was touched by a change of beta alone"
    assert not (env / sp / "beta-1.0.dist-info").exists()
    assert (env / sp / "beta-1.1.dist-info").is_dir()
    verify_ok(lb, env)
    out = run([env / "bin" / "python", "-c", "import beta, beta.util; print(beta.util.VALUE)"]).ok()
    assert out.stdout.strip() == "1.1"


def test_add_and_remove_a_package_in_place(lb, basic, tmp_path):
    env = tmp_path / "env"
    req = write(tmp_path / "req.txt", "delta==0.5\n")
    lb.env_json(req, "-o", env, "-i", basic.index_url)
    delta = env / os.path.relpath(site_packages(env), env) / "delta" / "__init__.py"
    ino = os.stat(delta).st_ino
    rep = lb.env_json(write(req, "delta==0.5\nzeta==3.1\n"), "-o", env, "-i", basic.index_url)
    assert linked_packages(rep) == {"zeta"} and [a["name"] for a in rep["added"]] == ["zeta"]
    assert os.stat(delta).st_ino == ino
    rep = lb.env_json(write(req, "zeta==3.1\n"), "-o", env, "-i", basic.index_url)
    assert rep["removed"] == [{"name": "delta", "version": "0.5"}] and linked_packages(rep) == set()
    assert not delta.parent.exists(), "the removed package's directory is still there"
    verify_ok(lb, env)


def test_a_requirements_file_naming_nothing_gives_an_env_without_packages(lb, basic, tmp_path):
    """As `uv pip sync`: the env is synced to nothing (pip installs nothing); the file is named."""
    env = tmp_path / "env"
    req = write(tmp_path / "req.txt", "delta==0.5\n")
    lb.env_json(req, "-o", env, "-i", basic.index_url)
    empty = write(tmp_path / "empty.txt", "# nothing yet\n")
    r = lb.run("env", empty, "-o", env, "-i", basic.index_url, "--json").ok()
    assert f"{empty} names no requirements" in r.stderr, r.describe()
    assert r.json()["removed"] == [{"name": "delta", "version": "0.5"}] and r.json()["packages"] == []
    assert not list(site_packages(env).glob("delta*"))
    verify_ok(lb, env)
    run([env / "bin" / "python", "-c", "import sys"]).ok()
    lock = lb.run("lock", empty, "-o", "-", "-i", basic.index_url).ok()
    assert "[[packages]]" not in lock.stdout and 'lock-version = "1.0"' in lock.stdout, lock.describe()


def test_killed_change_is_finished_by_the_next_run(lb, basic, tmp_path, environ):
    env = tmp_path / "env"
    lb.env_json(basic_req(tmp_path, basic), "-o", env, "-i", basic.index_url)
    req = basic_req(tmp_path, basic, beta="1.1")
    killed = lb.run("env", req, "-o", env, "-i", basic.index_url,
                    env={**environ, "LAVABUILD_TEST_KILL_IN_JOURNAL": "3"})
    assert killed.returncode == -9, killed.describe()
    assert (env / ".lavabuild" / "journal").is_file(), "no journal left by the killed change"
    rep = lb.run("env", req, "-o", env, "-i", basic.index_url, "--json").ok()
    assert "finished an interrupted change" in rep.stderr, rep.describe()
    assert not (env / ".lavabuild" / "journal").exists()
    assert not list(tmp_path.glob("env.tmp-*")), "the staging dir was left behind"
    verify_ok(lb, env)
    assert {p["name"]: p["version"] for p in rep.json()["packages"]}["beta"] == "1.1"


def test_failed_change_leaves_the_env_as_it_was(lb, basic, tmp_path):
    env = tmp_path / "env"
    lb.env_json(basic_req(tmp_path, basic), "-o", env, "-i", basic.index_url)
    before = snapshot(env)
    bad = basic_req(tmp_path, basic, extra="delta==0.5 --hash=sha256:" + "0" * 64 + "\n")
    r = lb.run("env", bad, "-o", env, "-i", basic.index_url)
    assert r.returncode == 1, r.describe()
    assert snapshot(env) == before
    assert not list(tmp_path.glob("env.tmp-*"))


# ------------------------------------------------------------------ B1: drift

def test_pip_install_and_uninstall_inside_the_env_are_repaired(lb, basic, tmp_path, environ):
    env = tmp_path / "env"
    req = basic_req(tmp_path, basic)
    lb.env_json(req, "-o", env, "-i", basic.index_url)
    py = env / "bin" / "python"
    # Importing writes __pycache__ dirs: not drift.
    run([py, "-c", "import alpha, beta, zeta.sub.mod"], env=environ).ok()
    assert lb.env_json(req, "-o", env, "-i", basic.index_url)["executed"] == []

    # pip adds a distribution lavabuild did not install: the next run removes it.
    pip(py, "install", "--no-deps", "--no-index", "--force-reinstall",
        str(next(basic.files.glob("delta-0.5-*.whl"))), environ=environ).ok()
    pip(py, "uninstall", "-y", "zeta", environ=environ).ok()
    r = lb.run("env", req, "-o", env, "-i", basic.index_url, "--json").ok()
    assert "repairing zeta" in r.stderr, r.describe()
    assert "repairing delta" in r.stderr, r.describe()  # pip replaced its files
    assert linked_packages(r.json()) == {"zeta", "delta"}, r.json()["executed"]
    verify_ok(lb, env)
    assert lb.env_json(req, "-o", env, "-i", basic.index_url)["executed"] == []


def test_a_distribution_pip_added_is_removed(lb, basic, tmp_path, environ):
    env = tmp_path / "env"
    req = write(tmp_path / "req.txt", "zeta==3.1\n")
    lb.env_json(req, "-o", env, "-i", basic.index_url)
    pip(env / "bin" / "python", "install", "--no-deps", "--no-index",
        str(next(basic.files.glob("delta-0.5-*.whl"))), environ=environ).ok()
    r = lb.run("env", req, "-o", env, "-i", basic.index_url, "--json").ok()
    assert "removing delta 0.5" in r.stderr, r.describe()
    assert r.json()["removed"] == [{"name": "delta", "version": "0.5"}]
    assert not list(site_packages(env).glob("delta*"))
    verify_ok(lb, env)


def test_edited_and_deleted_files_are_repaired(lb, basic, tmp_path):
    env = tmp_path / "env"
    req = basic_req(tmp_path, basic)
    lb.env_json(req, "-o", env, "-i", basic.index_url)
    sp = site_packages(env)
    (sp / "gamma" / "__init__.py").unlink()
    (env / "bin" / "alpha-cli").unlink()
    r = lb.run("env", req, "-o", env, "-i", basic.index_url, "--json").ok()
    assert "repairing gamma (" in r.stderr and "repairing alpha (" in r.stderr, r.describe()
    assert linked_packages(r.json()) == {"gamma", "alpha"}
    verify_ok(lb, env)


def test_reinstall_and_reinstall_package(lb, basic, tmp_path):
    env = tmp_path / "env"
    req = basic_req(tmp_path, basic)
    first = lb.env_json(req, "-o", env, "-i", basic.index_url)
    every = {p["name"] for p in first["packages"]}
    one = lb.env_json(req, "-o", env, "-i", basic.index_url, "--reinstall-package", "Zeta")
    assert linked_packages(one) == {"zeta"}
    allr = lb.env_json(req, "-o", env, "-i", basic.index_url, "--reinstall")
    assert linked_packages(allr) == every
    verify_ok(lb, env)


# ------------------------------------------------------------------ B3: existing venvs

def test_takes_over_a_venv_made_by_python_m_venv(lb, basic, tmp_path, environ, test_python):
    env = tmp_path / "venv"
    make_venv(test_python, env, environ)
    pip(env / "bin" / "python", "install", "--no-deps", "--no-index",
        str(next(basic.files.glob("delta-0.5-*.whl"))), environ=environ).ok()
    mine = write(env / "notes.txt", "kept\n")
    req = write(tmp_path / "req.txt", "zeta==3.1\n")
    r = lb.run("env", req, "-o", env, "-i", basic.index_url, "--json").ok()
    assert "taking over" in r.stderr and "python -m venv" in r.stderr, r.describe()
    assert r.json()["removed"] == [{"name": "delta", "version": "0.5"}]
    assert not list(site_packages(env).glob("delta*"))
    assert mine.read_text() == "kept\n"
    run([env / "bin" / "python", "-c", "import zeta.sub.mod"], env=environ).ok()
    v = lb.run("verify", env)
    assert "notes.txt" in v.stdout and v.stdout.count("\n") == 1, v.describe()  # only the user's file
    assert lb.env_json(req, "-o", env, "-i", basic.index_url)["executed"] == []


def test_venv_for_another_python_is_refused(lb, basic, tmp_path):
    env = tmp_path / "venv"
    write(env / "pyvenv.cfg", "home = /opt/py/bin\nversion = 3.99.1\n")
    r = lb.run("env", write(tmp_path / "req.txt", "zeta==3.1\n"), "-o", env, "-i", basic.index_url)
    assert r.returncode == 1 and "3.99.1" in r.stderr and "--python" in r.stderr, r.describe()


def test_non_venv_directory_is_refused_naming_its_content(lb, basic, tmp_path):
    target = tmp_path / "stuff"
    write(target / "report.pdf", "x")
    (target / "photos").mkdir()
    r = lb.run("env", write(tmp_path / "req.txt", "zeta==3.1\n"), "-o", target, "-i", basic.index_url)
    assert r.returncode == 1, r.describe()
    assert "not a venv" in r.stderr and "report.pdf" in r.stderr and "photos" in r.stderr
    assert sorted(os.listdir(target)) == ["photos", "report.pdf"]
