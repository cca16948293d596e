"""Builds from source (issue 8), through the real binary with real backends, gcc, git and brz.

The `sources` corpus (tools/make_fixtures.py write_sources) serves Debian's setuptools and wheel
wheels, the webapp wheels, sdists (srcpure: setuptools, PKG-INFO 2.1; cext: a C extension;
srcstatic: an in-tree backend, Metadata-Version 2.2 with static Requires-Dist) and project
trees under `sources.root / "projects"`. Every test copies the trees it uses into its tmp_path
(they are edited). Tests that only need some build to be cached share one store per module
(`slb`); tests that look at what a run left in the store (logs, which builds ran first) get
their own (`lb`).

Checked against the real outcome: the env's python imports the package and prints what the
tree says, direct_url.json (PEP 610), the `executed` steps of `--json`, `plan`'s reasons, the
user's tree byte for byte, the build log named in a failure, leftover processes after a
timeout, and pip's install of the same trees."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from lbtest import (Lavabuild, file_sha, make_venv, pip, run, site_packages,
                    snapshot, write)

GIT_ENV = {"GIT_AUTHOR_NAME": "lavabuild test", "GIT_AUTHOR_EMAIL": "test@lavabuild.invalid",
           "GIT_COMMITTER_NAME": "lavabuild test", "GIT_COMMITTER_EMAIL": "test@lavabuild.invalid",
           "GIT_CONFIG_NOSYSTEM": "1", "BRZ_EMAIL": "lavabuild test <test@lavabuild.invalid>"}


# ---------------------------------------------------------------- helpers
@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("sources-cache")


@pytest.fixture
def slb(lavabuild_bin, test_python, shared_cache, environ) -> Lavabuild:
    """lavabuild on the module's shared store: builds of identical trees are cache hits."""
    return Lavabuild(lavabuild_bin, test_python, shared_cache, environ)


def index(corpus) -> list:
    return ["-i", corpus.index_url]


def project(sources, name: str, dest: Path, as_name: str | None = None) -> Path:
    """A private copy of the corpus's project tree `name` at dest/as_name."""
    out = Path(dest) / (as_name or name)
    shutil.copytree(sources.root / "projects" / name, out)
    return out


def tree_state(root: Path) -> dict:
    """relpath -> (kind, mode, size, sha256/target) of everything under root (no inodes)."""
    return {rel: v[:4] for rel, v in snapshot(root).items()}


def py(env_dir: Path, code: str, environ=None) -> str:
    r = run([env_dir / "bin" / "python", "-c", code], env=environ)
    assert r.returncode == 0, r.describe()
    return r.stdout.strip()


def dist_info(env_dir: Path, name: str) -> Path:
    found = sorted(site_packages(env_dir).glob(f"{name}-*.dist-info"))
    assert len(found) == 1, f"{name}: dist-info dirs {found} in {env_dir}"
    return found[0]


def direct_url(env_dir: Path, name: str) -> dict:
    return json.loads((dist_info(env_dir, name) / "direct_url.json").read_text())


def kinds(report: dict, kind: str) -> list:
    return sorted(e["package"] for e in report["executed"] if e["kind"] == kind)


def logs(cache: Path) -> list:
    d = Path(cache) / "logs"
    return sorted(p.name for p in d.iterdir()) if d.is_dir() else []


def git(repo: Path, *args, environ) -> str:
    e = dict(environ)
    e.update(GIT_ENV)
    r = run(["git", "-C", repo, *args], env=e)
    assert r.returncode == 0, r.describe()
    return r.stdout.strip()


def brz(branch: Path, *args, environ) -> str:
    e = dict(environ)
    e.update(GIT_ENV)
    e["HOME"] = str(branch.parent)  # brz writes ~/.config/breezy
    r = run(["brz", *args], env=e, cwd=branch)
    assert r.returncode == 0, r.describe()
    return r.stdout.strip()


def report_line(capsys, line: str) -> None:
    """A finding the issue asks the suite to report: printed on the terminal, not captured."""
    with capsys.disabled():
        sys.stdout.write(f"\n[test_sources] {line}\n")


# ---------------------------------------------------------------- 1. local directory
def test_local_directory_setuptools(slb, sources, tmp_path):
    tree = project(sources, "hotapp", tmp_path)
    before = tree_state(tree)
    req = write(tmp_path / "req.txt", "./hotapp\n")
    env_dir = tmp_path / "env"
    rep = slb.env_json(req, "-o", env_dir, *index(sources), cwd=tmp_path)
    assert {p["name"] for p in rep["packages"]} == {"hotapp", "webutil"}, rep
    r = run([env_dir / "bin" / "hotapp"])
    assert r.returncode == 0 and r.stdout == "hotapp views v1\n", r.describe()
    assert py(env_dir, "import webutil; print(webutil.banner())") == "(served by webutil 1.0)"
    assert direct_url(env_dir, "hotapp") == {"url": tree.as_uri(), "dir_info": {}}
    # the build ran in a private copy: nothing was written into the user's tree
    after = tree_state(tree)
    assert after == before, (f"the tree changed: added {sorted(set(after) - set(before))}, "
                             f"removed {sorted(set(before) - set(after))}, changed "
                             f"{sorted(k for k in set(after) & set(before) if after[k] != before[k])}")
    assert not (tree / "build").exists() and not list(tree.glob("*.egg-info"))


def test_name_at_file_url_directory(slb, sources, tmp_path):
    tree = project(sources, "hotapp", tmp_path)
    req = write(tmp_path / "req.txt", f"hotapp @ {tree.as_uri()}\n")
    env_dir = tmp_path / "env"
    slb.env_json(req, "-o", env_dir, *index(sources))
    assert run([env_dir / "bin" / "hotapp"]).stdout == "hotapp views v1\n"
    assert direct_url(env_dir, "hotapp") == {"url": tree.as_uri(), "dir_info": {}}


# ---------------------------------------------------------------- 2. C extension
def test_c_extension_from_directory(slb, sources, tmp_path):
    tree = project(sources, "cext", tmp_path)
    before = tree_state(tree)
    req = write(tmp_path / "req.txt", "./cext\n")
    env_dir = tmp_path / "env"
    slb.env_json(req, "-o", env_dir, *index(sources), cwd=tmp_path)
    assert py(env_dir, "import cext; print(cext.answer())") == "42"
    assert list(site_packages(env_dir).glob("cext/_speed.cpython-*.so")), "no extension module installed"
    wheel = (dist_info(env_dir, "cext") / "WHEEL").read_text()
    assert "Root-Is-Purelib: false" in wheel and "Tag: cp3" in wheel, wheel
    assert tree_state(tree) == before, "the build wrote into the user's tree"


def test_c_extension_from_index_sdist(slb, sources, tmp_path):
    req = write(tmp_path / "req.txt", "cext==1.0\n")
    env_dir = tmp_path / "env"
    rep = slb.env_json(req, "-o", env_dir, *index(sources))
    assert py(env_dir, "import cext; print(cext.answer())") == "42"
    assert kinds(rep, "build") == ["cext"], rep
    assert not (dist_info(env_dir, "cext") / "direct_url.json").exists(), \
        "an sdist chosen from the index is not a direct URL (PEP 610)"


# ---------------------------------------------------------------- 3. legacy setup.py
def test_legacy_setup_py_only(slb, sources, tmp_path):
    tree = project(sources, "legacy", tmp_path)
    assert not (tree / "pyproject.toml").exists()
    before = tree_state(tree)
    req = write(tmp_path / "req.txt", "./legacy\n")
    env_dir = tmp_path / "env"
    rep = slb.env_json(req, "-o", env_dir, *index(sources), cwd=tmp_path)
    assert rep["packages"] == [{"name": "legacy", "version": "2.0"}], rep
    assert py(env_dir, "import legacy; print(legacy.WHO)") == "legacy setup.py"
    meta = (dist_info(env_dir, "legacy") / "METADATA").read_text()
    assert "Name: legacy" in meta and "Version: 2.0" in meta, meta
    assert tree_state(tree) == before, "setup.py ran in the user's tree"


# ---------------------------------------------------------------- 4. sdists from the index
def test_sdist_needing_a_build_for_metadata(lb, sources, tmp_path):
    req = write(tmp_path / "req.txt", "srcpure\n")
    env_dir = tmp_path / "env"
    rep = lb.env_json(req, "-o", env_dir, *index(sources))
    assert {p["name"] for p in rep["packages"]} == {"srcpure", "webutil"}, rep
    assert kinds(rep, "build") == ["srcpure"], rep
    assert py(env_dir, "import srcpure, webutil; print(srcpure.WHO)") == "srcpure"
    again = lb.env_json(req, "-o", env_dir, *index(sources))
    assert again["executed"] == [], again


def test_sdist_static_metadata_plan_runs_no_backend(lb, sources, tmp_path, cache_dir):
    req = write(tmp_path / "req.txt", "srcstatic\n")
    env_dir = tmp_path / "env"
    r = lb.run("plan", req, "-o", env_dir, *index(sources)).ok()
    assert re.search(r"^\[run\] build srcstatic 1\.0\b", r.stdout, re.M), r.describe()
    # its dependency came from PKG-INFO (PEP 643), not from a backend
    assert re.search(r"\bgreeting 1\.0\b", r.stdout), r.describe()
    ran = [n for n in logs(cache_dir) if n.startswith("metadata-") or n.startswith("build-")]
    assert not ran, f"plan ran a build backend for an sdist with static metadata: {ran}\n" + r.describe()
    rep = lb.env_json(req, "-o", env_dir, *index(sources))
    assert kinds(rep, "build") == ["srcstatic"], rep
    assert py(env_dir, "import srcstatic, greeting; print(srcstatic.WHO)") == "static"


def test_plan_builds_no_wheel_and_prepares_no_metadata_when_pkg_info_is_static(lb, sources, tmp_path, cache_dir):
    """plan may make the build env and ask get_requires_for_build_wheel (the build key needs
    them: cache work, like a download), but it builds no wheel, and with a static Requires-Dist
    (PEP 643) the backend prepares no metadata either."""
    req = write(tmp_path / "req.txt", "srcstatic\n")
    r = lb.run("plan", req, "-o", tmp_path / "env", *index(sources)).ok()
    assert re.search(r"^\[run\] build srcstatic 1\.0\b", r.stdout, re.M), r.describe()
    ran = [n for n in logs(cache_dir) if not n.startswith("requires-")]
    assert not ran, f"plan ran more than get_requires: {ran}\n" + r.describe()

def test_plan_of_sdist_with_dynamic_metadata(lb, sources, tmp_path, cache_dir):
    """srcpure's PKG-INFO is 2.1: plan asks the backend for metadata only (no wheel built)."""
    req = write(tmp_path / "req.txt", "srcpure\n")
    r = lb.run("plan", req, "-o", tmp_path / "env", *index(sources)).ok()
    assert re.search(r"^\[run\] build srcpure 1\.0\b", r.stdout, re.M), r.describe()
    assert re.search(r"\bwebutil 1\.0\b", r.stdout), r.describe()
    assert not [n for n in logs(cache_dir) if n.startswith("build-")], logs(cache_dir)


# ---------------------------------------------------------------- local archives
@pytest.mark.parametrize("form", ["path", "name @ file URL"])
def test_local_archive(slb, sources, tmp_path, form):
    archive = tmp_path / "dl" / "srcpure-1.0.tar.gz"
    archive.parent.mkdir()
    shutil.copy(sources.files / archive.name, archive)
    line = "./dl/srcpure-1.0.tar.gz" if form == "path" else f"srcpure @ {archive.as_uri()}"
    req = write(tmp_path / "req.txt", line + "\n")
    env_dir = tmp_path / "env"
    rep = slb.env_json(req, "-o", env_dir, *index(sources), cwd=tmp_path)
    assert {p["name"] for p in rep["packages"]} == {"srcpure", "webutil"}, rep
    assert py(env_dir, "import srcpure; print(srcpure.WHO)") == "srcpure"
    du = direct_url(env_dir, "srcpure")
    assert du["url"] == archive.as_uri(), du
    assert du["archive_info"]["hashes"] == {"sha256": file_sha(archive)}, du


def test_archive_hash_is_checked_before_anything_runs(lb, sources, tmp_path, cache_dir):
    """A --hash that the archive does not match: refused naming both hashes, and no backend
    ran (no build env, no log): an unverified sdist's code never runs."""
    archive = tmp_path / "dl" / "srcpure-1.0.tar.gz"
    archive.parent.mkdir()
    shutil.copy(sources.files / archive.name, archive)
    zeros = "0" * 64
    req = write(tmp_path / "req.txt", f"./dl/srcpure-1.0.tar.gz --hash=sha256:{zeros}\n")
    r = lb.run("env", req, "-o", tmp_path / "env", *index(sources), cwd=tmp_path).fails(1)
    assert "hash mismatch for srcpure-1.0.tar.gz" in r.stderr, r.describe()
    assert f"expected sha256:{zeros}" in r.stderr and file_sha(archive) in r.stderr, r.describe()
    assert "req.txt:1" in r.stderr, r.describe()
    assert not logs(cache_dir) and not (cache_dir / "build-envs").exists(), r.describe()
    assert not (tmp_path / "env").exists()


def test_direct_reference_naming_another_project(slb, sources, tmp_path):
    """`other @ file:///…/hotapp`: an error naming the requirement's file and line."""
    tree = project(sources, "hotapp", tmp_path)
    # unique content: a build runs (with a build in the store the metadata check answers first)
    (tree / "hotapp" / "__init__.py").write_text(f'__version__ = "1.0"  # {uuid.uuid4().hex}\n')
    req = write(tmp_path / "req.txt", f"other @ {tree.as_uri()}\n")
    r = slb.run("env", req, "-o", tmp_path / "env", *index(sources)).fails(1)
    assert "hotapp" in r.stderr and "other" in r.stderr, r.describe()
    assert "req.txt:1" in r.stderr, "the error does not name the requirement's file and line\n" + r.describe()


# ---------------------------------------------------------------- 5. --no-binary / --only-binary
def test_no_binary_builds_from_the_sdist(lb, basic, tmp_path):
    req = write(tmp_path / "req.txt", "delta==0.5\n")
    env_dir = tmp_path / "env"
    rep = lb.env_json(req, "-o", env_dir, "-i", basic.index_url, "--no-binary", "delta")
    assert kinds(rep, "build") == ["delta"], rep
    # the sdist's in-tree backend writes "Generator: in-tree"; the corpus's wheel does not
    assert "Generator: in-tree" in (dist_info(env_dir, "delta") / "WHEEL").read_text()
    assert py(env_dir, "import delta; print(delta.hello())") == "hello from delta 0.5"
    # without --no-binary the wheel is used
    env2 = tmp_path / "env2"
    rep2 = lb.env_json(req, "-o", env2, "-i", basic.index_url)
    assert kinds(rep2, "build") == [], rep2
    assert "Generator: in-tree" not in (dist_info(env2, "delta") / "WHEEL").read_text()


def test_no_binary_all(lb, basic, tmp_path):
    req = write(tmp_path / "req.txt", "delta==0.5\n")
    rep = lb.env_json(req, "-o", tmp_path / "env", "-i", basic.index_url, "--no-binary", ":all:")
    assert kinds(rep, "build") == ["delta"], rep


def test_only_binary_refuses_an_sdist_only_project(lb, basic, tmp_path):
    req = write(tmp_path / "req.txt", "iota\n")
    r = lb.run("env", req, "-o", tmp_path / "env", "-i", basic.index_url, "--only-binary", ":all:").fails(1)
    assert "is only a source archive (not built: --only-binary)" in r.stderr, r.describe()
    assert "iota" in r.stderr
    assert not (tmp_path / "env").exists()


# ---------------------------------------------------------------- 6. hot-fix
def test_hotfix_rebuilds_exactly_one_package(slb, sources, tmp_path):
    tree = project(sources, "hotapp", tmp_path)
    # unique content: the shared store has never built this tree
    (tree / "hotapp" / "__init__.py").write_text(f'__version__ = "1.0"  # {uuid.uuid4().hex}\n')
    req = write(tmp_path / "req.txt", "./hotapp\nwebapp\n")
    env_dir = tmp_path / "env"
    first = slb.env_json(req, "-o", env_dir, *index(sources), cwd=tmp_path)
    assert {p["name"] for p in first["packages"]} == {"hotapp", "webapp", "webutil", "greeting", "colorful"}
    assert run([env_dir / "bin" / "hotapp"]).stdout == "hotapp views v1\n"
    sp = site_packages(env_dir)
    others_before = {k: v for k, v in snapshot(sp).items() if not k.startswith("hotapp")}

    views = tree / "hotapp" / "views.py"
    views.write_text(views.read_text().replace("v1", "v2"))
    plan = slb.run("plan", req, "-o", env_dir, *index(sources), cwd=tmp_path).ok()
    to_run = [line for line in plan.stdout.splitlines() if line.startswith("[run]")]
    builds = [line for line in to_run if line.startswith("[run] build ")]
    assert len(builds) == 1 and builds[0].startswith("[run] build hotapp 1.0"), plan.describe()
    assert "changed since the last build: source (hotapp/views.py changed)" in builds[0], plan.describe()
    for line in to_run:  # nothing else runs: hotapp's unpack, bytecode and link
        assert "hotapp" in line and not re.search(r"webapp|webutil|greeting|colorful", line), plan.describe()

    r = slb.run("env", req, "-o", env_dir, *index(sources), "--json", "-v", cwd=tmp_path).ok()
    rep = r.json()
    assert kinds(rep, "build") == ["hotapp"], rep
    assert kinds(rep, "link") == ["hotapp"], rep
    assert {e["package"] for e in rep["executed"]} == {"hotapp"}, rep
    assert run([env_dir / "bin" / "hotapp"]).stdout == "hotapp views v2\n"
    others_after = {k: v for k, v in snapshot(sp).items() if not k.startswith("hotapp")}
    assert others_after == others_before, "distributions other than hotapp were relinked"

    again = slb.env_json(req, "-o", env_dir, *index(sources), cwd=tmp_path)
    assert again["executed"] == [], again
    # -v says why the build ran, as plan did
    assert "hotapp/views.py changed" in r.stderr, "-v does not say why hotapp was rebuilt\n" + r.describe()


def test_build_key_is_content_not_stat(slb, sources, tmp_path):
    """A touched file rebuilds nothing; an edit reverted finds the first build again."""
    tree = project(sources, "hotapp", tmp_path)
    (tree / "hotapp" / "__init__.py").write_text(f'__version__ = "1.0"  # {uuid.uuid4().hex}\n')
    req = write(tmp_path / "req.txt", "./hotapp\n")
    env_dir = tmp_path / "env"
    assert kinds(slb.env_json(req, "-o", env_dir, *index(sources), cwd=tmp_path), "build") == ["hotapp"]
    views = tree / "hotapp" / "views.py"
    st = views.stat()
    os.utime(views, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    rep = slb.env_json(req, "-o", env_dir, *index(sources), cwd=tmp_path)
    assert rep["executed"] == [], rep
    original = views.read_text()
    views.write_text(original.replace("v1", "v2"))
    assert kinds(slb.env_json(req, "-o", env_dir, *index(sources), cwd=tmp_path), "build") == ["hotapp"]
    assert run([env_dir / "bin" / "hotapp"]).stdout == "hotapp views v2\n"
    views.write_text(original)
    rep = slb.env_json(req, "-o", env_dir, *index(sources), cwd=tmp_path)
    assert kinds(rep, "build") == [] and kinds(rep, "link") == ["hotapp"], rep
    assert run([env_dir / "bin" / "hotapp"]).stdout == "hotapp views v1\n"
    # what plan says changed is measured against the build the env has (v1), not against the
    # last one that ran from this tree (v2)
    plan = slb.run("plan", req, "-o", env_dir, *index(sources), cwd=tmp_path, env={"CFLAGS": "-O1"}).ok()
    build = [line for line in plan.stdout.splitlines() if line.startswith("[run] build hotapp")]
    assert build and build[0].endswith("changed since the last build: environment"), plan.describe()


def test_plan_reason_after_a_build_found_in_the_store(slb, sources, tmp_path):
    """A tree whose build the store already had (built from another checkout): after an edit,
    plan names the edited file, as it does for a tree built in place."""
    a = project(sources, "hotapp", tmp_path / "a")
    (a / "hotapp" / "__init__.py").write_text(f'__version__ = "1.0"  # {uuid.uuid4().hex}\n')
    b = tmp_path / "b" / "hotapp"
    shutil.copytree(a, b)
    for tree in (a, b):
        req = write(tree.parent / "req.txt", "./hotapp\n")
        rep = slb.env_json(req, "-o", tree.parent / "env", *index(sources), cwd=tree.parent)
    assert kinds(rep, "build") == [], "the second checkout's identical tree was built again"
    views = b / "hotapp" / "views.py"
    views.write_text(views.read_text().replace("v1", "v2"))
    plan = slb.run("plan", req, "-o", b.parent / "env", *index(sources), cwd=b.parent).ok()
    assert "[run] build hotapp 1.0 — changed since the last build: source (hotapp/views.py changed)" \
        in plan.stdout, plan.describe()


def test_build_environment_variables_are_in_the_key(slb, sources, tmp_path):
    tree = project(sources, "hotapp", tmp_path)
    (tree / "hotapp" / "__init__.py").write_text(f'__version__ = "1.0"  # {uuid.uuid4().hex}\n')
    req = write(tmp_path / "req.txt", "./hotapp\n")
    env_dir = tmp_path / "env"
    slb.env_json(req, "-o", env_dir, *index(sources), cwd=tmp_path)
    var = {"SETUPTOOLS_LAVABUILD_TEST": uuid.uuid4().hex}
    plan = slb.run("plan", req, "-o", env_dir, *index(sources), cwd=tmp_path, env=var).ok()
    assert re.search(r"^\[run\] build hotapp 1\.0 .*changed since the last build: environment", plan.stdout, re.M), \
        plan.describe()
    rep = slb.env_json(req, "-o", env_dir, *index(sources), cwd=tmp_path, env=var)
    assert kinds(rep, "build") == ["hotapp"], rep
    assert slb.env_json(req, "-o", env_dir, *index(sources), cwd=tmp_path, env=var)["executed"] == []


# ---------------------------------------------------------------- 7. reproducibility
def built_wheel_sha(lb: Lavabuild, req: Path, env_dir: Path, cache: Path, name: str, opts, cwd) -> str:
    """The sha256 of the wheel the store holds for `name`: plan's fetch reason names its
    prefix; the blob's file name is the whole digest, checked against its bytes."""
    r = lb.run("plan", req, "-o", env_dir, *opts, "--format", "json", cache_dir=cache, cwd=cwd).ok()
    steps = json.loads(r.stdout)
    fetch = [s for s in steps if s["kind"] == "fetch" and s["package"] == name]
    m = re.search(r"is in the store \(sha256 ([0-9a-f]{12})\)", fetch[0]["reason"]) if fetch else None
    assert m, "plan does not name the built wheel's sha256\n" + r.describe()
    blobs = list((cache / "blobs" / m.group(1)[:2]).glob(m.group(1) + "*"))
    assert len(blobs) == 1, blobs
    assert file_sha(blobs[0]) == blobs[0].name
    return blobs[0].name


def test_reproducible_builds_report(slb, sources, tmp_path, capsys):
    findings = []
    for name in ("hotapp", "cext"):
        project(sources, name, tmp_path)
        req = write(tmp_path / f"req-{name}.txt", f"./{name}\n")
        shas = []
        for i in (1, 2):
            cache = tmp_path / f"cache-{name}-{i}"
            env_dir = tmp_path / f"env-{name}-{i}"
            rep = slb.env_json(req, "-o", env_dir, *index(sources), cache_dir=cache, cwd=tmp_path)
            assert kinds(rep, "build") == [name], rep
            shas.append(built_wheel_sha(slb, req, env_dir, cache, name, index(sources), tmp_path))
        findings.append(f"{name}: {'identical' if shas[0] == shas[1] else 'DIFFERENT'} wheel sha256 "
                        f"from two caches ({shas[0][:16]} / {shas[1][:16]})")
    report_line(capsys, "reproducibility: " + "; ".join(findings))


# ---------------------------------------------------------------- 8. build failure
def test_failing_build_keeps_the_env(lb, sources, tmp_path, cache_dir):
    tree = project(sources, "hotapp", tmp_path)
    req = write(tmp_path / "req.txt", "./hotapp\n")
    env_dir = tmp_path / "env"
    lb.env_json(req, "-o", env_dir, *index(sources), cwd=tmp_path)
    assert run([env_dir / "bin" / "hotapp"]).stdout == "hotapp views v1\n"
    before = snapshot(env_dir)

    (tree / "hotapp" / "views.py").write_text('def render():\n    return "hotapp views v2"\n')
    write(tree / "setup.py", 'raise RuntimeError("lavabuild fixture: this build is broken on purpose")\n')
    r = lb.run("env", req, "-o", env_dir, *index(sources), cwd=tmp_path).fails(1)
    m = re.search(re.escape(str(cache_dir / "logs")) + r"/[^\s:'\"]+\.log", r.stderr)
    assert m, "the error does not name a log under <cache>/logs\n" + r.describe()
    log = Path(m.group(0))
    assert log.is_file(), f"the log named in the error does not exist: {log}"
    assert "RuntimeError: lavabuild fixture: this build is broken on purpose" in log.read_text()
    # the backend's last lines are on the terminal
    assert "RuntimeError: lavabuild fixture: this build is broken on purpose" in r.stderr, r.describe()
    # the env is as it was
    assert snapshot(env_dir) == before
    assert run([env_dir / "bin" / "hotapp"]).stdout == "hotapp views v1\n"
    lb.run("verify", env_dir).ok()


# ---------------------------------------------------------------- 9. missing header
def test_missing_header_is_named(slb, sources, tmp_path):
    project(sources, "noheader", tmp_path)
    req = write(tmp_path / "req.txt", "./noheader\n")
    r = slb.run("env", req, "-o", tmp_path / "env", *index(sources), cwd=tmp_path).fails(1)
    assert re.search(r"missing.{0,40}header|header.{0,40}(missing|not found)", r.stderr, re.I | re.S), r.describe()
    assert "lavabuild_missing_header.h" in r.stderr, r.describe()


# ---------------------------------------------------------------- 10. --build-timeout
def test_build_timeout_stops_the_backend(slb, sources, tmp_path):
    tree = project(sources, "slowbuild", tmp_path)
    token = f"60.{uuid.uuid4().int % 10**9:09d}"
    (tree / "sleep-seconds").write_text(token + "\n")
    req = write(tmp_path / "req.txt", "./slowbuild\n")
    # The backend would sleep 60 s: a run that ends within the harness's 30 s was stopped.
    r = slb.run("env", req, "-o", tmp_path / "env", *index(sources), "--build-timeout", "2",
                cwd=tmp_path, timeout=30).fails(1)
    assert "did not finish" in r.stderr and "--build-timeout" in r.stderr, r.describe()
    assert "/logs/" in r.stderr, r.describe()
    left = run(["pgrep", "-af", f"sleep {token}"])
    assert left.returncode == 1 and not left.stdout, f"processes left after the timeout:\n{left.stdout}"
    assert not (tmp_path / "env").exists()


# ---------------------------------------------------------------- 11. --config-settings
def test_config_settings_reach_the_backend(slb, sources, tmp_path):
    project(sources, "settings", tmp_path)
    req = write(tmp_path / "req.txt", "./settings\n")
    env_dir = tmp_path / "env"
    tag = uuid.uuid4().hex[:8]
    rep = slb.env_json(req, "-o", env_dir, *index(sources), "--config-settings", f"mode=one-{tag}", cwd=tmp_path)
    assert kinds(rep, "build") == ["settings"], rep
    assert py(env_dir, "import settings; print(settings.CONFIG)") == f"{{'mode': 'one-{tag}'}}"
    # another value: another build key
    rep = slb.env_json(req, "-o", env_dir, *index(sources), "-C", f"mode=two-{tag}", cwd=tmp_path)
    assert kinds(rep, "build") == ["settings"], rep
    assert py(env_dir, "import settings; print(settings.CONFIG)") == f"{{'mode': 'two-{tag}'}}"
    # the first value again: built before
    rep = slb.env_json(req, "-o", env_dir, *index(sources), "-C", f"mode=one-{tag}", cwd=tmp_path)
    assert kinds(rep, "build") == [], rep
    assert py(env_dir, "import settings; print(settings.CONFIG)") == f"{{'mode': 'one-{tag}'}}"


def test_config_settings_per_requirement_line(slb, sources, tmp_path):
    project(sources, "settings", tmp_path)
    tag = uuid.uuid4().hex[:8]
    env_dir = tmp_path / "env"
    req = write(tmp_path / "req.txt", f"./settings --config-settings mode=line-{tag}\n")
    slb.env_json(req, "-o", env_dir, *index(sources), cwd=tmp_path)
    assert py(env_dir, "import settings; print(settings.CONFIG)") == f"{{'mode': 'line-{tag}'}}"
    req = write(tmp_path / "req.txt", f"./settings -C mode=short-{tag} -C other=x\n")
    rep = slb.env_json(req, "-o", env_dir, *index(sources), cwd=tmp_path)
    assert kinds(rep, "build") == ["settings"], rep
    assert py(env_dir, "import settings; print(settings.CONFIG)") == f"{{'mode': 'short-{tag}', 'other': 'x'}}"


# ---------------------------------------------------------------- 12. recipes
PATCH = """\
fix the greeting
--- a/srcpure/__init__.py
+++ b/srcpure/__init__.py
@@ -1 +1 @@
-WHO = "srcpure"
+WHO = "{new}"
"""


def test_recipe_patch_on_an_index_sdist(slb, sources, tmp_path):
    recipes = tmp_path / "recipes"
    patch = write(recipes / "srcpure" / "fix.patch", PATCH.format(new="srcpure patched"))
    write(recipes / "srcpure.toml", 'version = ">=1.0"\npatches = ["srcpure/fix.patch"]\n')
    project(sources, "hotapp", tmp_path)
    req = write(tmp_path / "req.txt", "srcpure\n./hotapp\n")
    env_dir = tmp_path / "env"
    opts = [*index(sources), "--recipes", recipes]
    slb.env_json(req, "-o", env_dir, *opts, cwd=tmp_path)
    assert py(env_dir, "import srcpure; print(srcpure.WHO)") == "srcpure patched"
    assert run([env_dir / "bin" / "hotapp"]).stdout == "hotapp views v1\n"

    # another patch: exactly srcpure is rebuilt
    patch.write_text(PATCH.format(new=f"srcpure patched again {uuid.uuid4().hex[:8]}"))
    rep = slb.env_json(req, "-o", env_dir, *opts, cwd=tmp_path)
    assert kinds(rep, "build") == ["srcpure"], rep
    assert {e["package"] for e in rep["executed"]} == {"srcpure"}, rep
    assert py(env_dir, "import srcpure; print(srcpure.WHO)").startswith("srcpure patched again ")

    # a patch that does not apply: the recipe, the file and the hunk are named
    patch.write_text(PATCH.replace('-WHO = "srcpure"', '-WHO = "not what the file says"').format(new="x"))
    r = slb.run("env", req, "-o", env_dir, *opts, cwd=tmp_path).fails(1)
    assert str(recipes / "srcpure.toml") in r.stderr or "recipes/srcpure.toml" in r.stderr, r.describe()
    assert "srcpure/__init__.py" in r.stderr and re.search(r"Hunk #1 FAILED", r.stderr), r.describe()
    assert py(env_dir, "import srcpure; print(srcpure.WHO)").startswith("srcpure patched again ")


def test_recipe_applies_only_to_its_versions_and_name(slb, sources, tmp_path):
    recipes = tmp_path / "recipes"
    write(recipes / "srcpure" / "fix.patch", PATCH.format(new="srcpure patched"))
    toml = write(recipes / "srcpure.toml", 'version = "<1.0"\npatches = ["srcpure/fix.patch"]\n')
    req = write(tmp_path / "req.txt", "srcpure\n")
    env_dir = tmp_path / "env"
    slb.env_json(req, "-o", env_dir, *index(sources), "--recipes", recipes)
    assert py(env_dir, "import srcpure; print(srcpure.WHO)") == "srcpure", "a recipe for <1.0 applied to 1.0"
    # a file name that spells the project another way is an error, never ignored
    toml.rename(recipes / "SrcPure.toml")
    r = slb.run("env", req, "-o", env_dir, *index(sources), "--recipes", recipes).fails()
    assert "SrcPure.toml" in r.stderr and "srcpure.toml" in r.stderr, r.describe()


# ---------------------------------------------------------------- 13. git
def make_git_repo(sources, tmp_path, environ, subdir: str = "") -> tuple[Path, Path]:
    """A git repo holding vcsapp (at `subdir`), one commit on master and a branch `fix`
    with WHO = "vcsapp fix 1". Returns (repo, project dir inside it)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "master", environ=environ)
    proj = repo / subdir if subdir else repo
    proj.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(sources.root / "projects" / "vcsapp", proj, dirs_exist_ok=True)
    write(repo / "README", "a repository\n")
    git(repo, "add", "-A", environ=environ)
    git(repo, "commit", "-q", "-m", "r1", environ=environ)
    git(repo, "checkout", "-q", "-b", "fix", environ=environ)
    (proj / "vcsapp" / "__init__.py").write_text('WHO = "vcsapp fix 1"\n')
    git(repo, "commit", "-q", "-am", "fix 1", environ=environ)
    git(repo, "checkout", "-q", "master", environ=environ)
    return repo, proj


def test_git_branch(slb, sources, tmp_path, environ):
    repo, proj = make_git_repo(sources, tmp_path, environ)
    req = write(tmp_path / "req.txt", f"git+{repo.as_uri()}@fix#egg=vcsapp\n")
    env_dir = tmp_path / "env"
    rep = slb.env_json(req, "-o", env_dir, *index(sources))
    assert kinds(rep, "build") == ["vcsapp"], rep
    assert py(env_dir, "import vcsapp; print(vcsapp.WHO)") == "vcsapp fix 1"
    du = direct_url(env_dir, "vcsapp")
    assert du["url"] == repo.as_uri(), du
    assert du["vcs_info"] == {"vcs": "git", "commit_id": git(repo, "rev-parse", "fix", environ=environ),
                              "requested_revision": "fix"}, du
    # the branch did not move: fetched, nothing built or linked
    assert slb.env_json(req, "-o", env_dir, *index(sources))["executed"] == []

    # the branch moves: the next run fetches it and rebuilds
    git(repo, "checkout", "-q", "fix", environ=environ)
    (proj / "vcsapp" / "__init__.py").write_text('WHO = "vcsapp fix 2"\n')
    git(repo, "commit", "-q", "-am", "fix 2", environ=environ)
    rep = slb.env_json(req, "-o", env_dir, *index(sources))
    assert kinds(rep, "build") == ["vcsapp"], rep
    assert py(env_dir, "import vcsapp; print(vcsapp.WHO)") == "vcsapp fix 2"
    assert direct_url(env_dir, "vcsapp")["vcs_info"]["commit_id"] == git(repo, "rev-parse", "fix", environ=environ)

    # --offline into a fresh env: from the mirror in the cache, the repository gone
    assert list((slb.cache_dir / "vcs" / "git").iterdir()), "no git mirror in <cache>/vcs/git"
    shutil.move(repo, tmp_path / "repo-away")
    env2 = tmp_path / "env2"
    rep = slb.env_json(req, "-o", env2, *index(sources), "--offline")
    assert py(env2, "import vcsapp; print(vcsapp.WHO)") == "vcsapp fix 2"
    assert kinds(rep, "build") == [], rep


def test_git_subdirectory(slb, sources, tmp_path, environ):
    repo, proj = make_git_repo(sources, tmp_path, environ, subdir="python/vcsapp")
    req = write(tmp_path / "req.txt", f"git+{repo.as_uri()}@fix#egg=vcsapp&subdirectory=python/vcsapp\n")
    env_dir = tmp_path / "env"
    slb.env_json(req, "-o", env_dir, *index(sources))
    assert py(env_dir, "import vcsapp; print(vcsapp.WHO)") == "vcsapp fix 1"
    du = direct_url(env_dir, "vcsapp")
    assert du.get("subdirectory") == "python/vcsapp", du
    assert du["vcs_info"]["commit_id"] == git(repo, "rev-parse", "fix", environ=environ), du
    # a commit pinned by id is immutable: the re-run is a no-op
    sha = git(repo, "rev-parse", "master", environ=environ)
    req2 = write(tmp_path / "req2.txt", f"vcsapp @ git+{repo.as_uri()}@{sha}#subdirectory=python/vcsapp\n")
    env2 = tmp_path / "env2"
    slb.env_json(req2, "-o", env2, *index(sources))
    assert py(env2, "import vcsapp; print(vcsapp.WHO)") == "vcsapp r1"
    assert direct_url(env2, "vcsapp")["vcs_info"]["commit_id"] == sha
    assert slb.env_json(req2, "-o", env2, *index(sources))["executed"] == []


# ---------------------------------------------------------------- 14. bzr
def test_bzr_branch(slb, sources, tmp_path, environ):
    if not shutil.which("brz"):
        from lbtest import missing_prerequisite
        missing_prerequisite("brz is not installed (apt-get install brz)")
    branch = tmp_path / "branch"
    branch.mkdir()
    brz(branch, "init", "-q", ".", environ=environ)
    shutil.copytree(sources.root / "projects" / "vcsapp", branch, dirs_exist_ok=True)
    brz(branch, "add", "-q", environ=environ)
    brz(branch, "commit", "-q", "-m", "r1", environ=environ)
    revid1 = brz(branch, "revision-info", "-d", ".", environ=environ).split()[1]
    req = write(tmp_path / "req.txt", f"bzr+{branch.as_uri()}#egg=vcsapp\n")
    env_dir = tmp_path / "env"
    rep = slb.env_json(req, "-o", env_dir, *index(sources))
    assert kinds(rep, "build") == ["vcsapp"], rep
    assert py(env_dir, "import vcsapp; print(vcsapp.WHO)") == "vcsapp r1"
    du = direct_url(env_dir, "vcsapp")
    assert du["url"] == branch.as_uri() and du["vcs_info"]["vcs"] == "bzr", du
    assert du["vcs_info"]["commit_id"] == revid1, du

    # a new commit on the branch: fetched and rebuilt
    (branch / "vcsapp" / "__init__.py").write_text('WHO = "vcsapp r2"\n')
    brz(branch, "commit", "-q", "-m", "r2", environ=environ)
    revid2 = brz(branch, "revision-info", "-d", ".", environ=environ).split()[1]
    rep = slb.env_json(req, "-o", env_dir, *index(sources))
    assert kinds(rep, "build") == ["vcsapp"], rep
    assert py(env_dir, "import vcsapp; print(vcsapp.WHO)") == "vcsapp r2"
    assert direct_url(env_dir, "vcsapp")["vcs_info"]["commit_id"] == revid2

    # a revision by number, offline from the mirror
    req1 = write(tmp_path / "req1.txt", f"bzr+{branch.as_uri()}@1#egg=vcsapp\n")
    env2 = tmp_path / "env2"
    slb.env_json(req1, "-o", env2, *index(sources), "--offline")
    assert py(env2, "import vcsapp; print(vcsapp.WHO)") == "vcsapp r1"
    du = direct_url(env2, "vcsapp")
    assert du["vcs_info"]["commit_id"] == revid1 and du["vcs_info"].get("requested_revision") == "1", du


# ---------------------------------------------------------------- 15. editable
def test_editable_imports_from_the_tree(slb, sources, tmp_path):
    tree = project(sources, "hotapp", tmp_path)
    req = write(tmp_path / "req.txt", "-e ./hotapp\n")
    env_dir = tmp_path / "env"
    slb.env_json(req, "-o", env_dir, *index(sources), cwd=tmp_path)
    assert run([env_dir / "bin" / "hotapp"]).stdout == "hotapp views v1\n"
    assert direct_url(env_dir, "hotapp") == {"url": tree.as_uri(), "dir_info": {"editable": True}}
    assert py(env_dir, "import hotapp.views; print(hotapp.views.__file__)") == str(tree / "hotapp" / "views.py")
    (tree / "hotapp" / "views.py").write_text('def render():\n    return "hotapp views edited"\n')
    assert run([env_dir / "bin" / "hotapp"]).stdout == "hotapp views edited\n"
    assert not list(site_packages(env_dir).glob("hotapp/views.py")), "the editable copied the tree"
    slb.run("verify", env_dir).ok()


# ---------------------------------------------------------------- 16. differential against pip
def pip_and_lavabuild(lb, sources, tmp_path, environ, test_python, name) -> tuple[Path, Path]:
    """Install the project tree `name` with pip (its own copy: pip builds in the tree) and
    with lavabuild; returns (pip env, lavabuild env)."""
    pip_tree = project(sources, name, tmp_path / "pip")
    lb_tree = project(sources, name, tmp_path / "lb")
    pip_env, lb_env = tmp_path / "pip-env", tmp_path / "lb-env"
    make_venv(test_python, pip_env, environ)
    pip(pip_env / "bin" / "python", "install", "--no-index", "--find-links", sources.files, pip_tree,
        environ=environ).ok()
    req = write(tmp_path / "lb" / "req.txt", f"{lb_tree}\n")
    lb.env_json(req, "-o", lb_env, "--no-index", "-f", sources.files)
    return pip_env, lb_env


def compare_source_installs(pip_env: Path, lb_env: Path) -> list:
    """File names (without bytecode), METADATA, entry_points.txt, RECORD path sets, WHEEL."""
    from test_differential import env_files, normalized
    diffs = []

    def names(env_dir):
        return {rel for rel in env_files(env_dir) if "__pycache__" not in rel}

    a, b = names(pip_env), names(lb_env)
    diffs += [f"only pip installed: {rel}" for rel in sorted(a - b)]
    diffs += [f"only lavabuild installed: {rel}" for rel in sorted(b - a)]
    sp_a, sp_b = site_packages(pip_env), site_packages(lb_env)
    for di in sorted(p.name for p in sp_a.glob("*.dist-info")):
        for fn in ("METADATA", "entry_points.txt", "WHEEL", "top_level.txt", "REQUESTED"):
            fa, fb = sp_a / di / fn, sp_b / di / fn
            if fa.exists() != fb.exists():
                diffs.append(f"{di}/{fn}: pip has it: {fa.exists()}, lavabuild: {fb.exists()}")
            elif fa.exists() and normalized(fa.read_bytes(), pip_env) != normalized(fb.read_bytes(), lb_env):
                diffs.append(f"{di}/{fn} differs:\n  pip:       {fa.read_text()[:400]!r}\n"
                             f"  lavabuild: {fb.read_text()[:400]!r}")
        rec_a, rec_b = sp_a / di / "RECORD", sp_b / di / "RECORD"
        if rec_b.exists():
            pa = {line.split(",")[0] for line in rec_a.read_text().splitlines() if line}
            pb = {line.split(",")[0] for line in rec_b.read_text().splitlines() if line}
            if pa != pb:
                diffs.append(f"{di}/RECORD paths: pip-only {sorted(pa - pb)} lavabuild-only {sorted(pb - pa)}")
        du_a, du_b = sp_a / di / "direct_url.json", sp_b / di / "direct_url.json"
        if du_a.exists() and du_b.exists():
            ja, jb = json.loads(du_a.read_text()), json.loads(du_b.read_text())
            if set(ja) != set(jb) or ja.get("dir_info") != jb.get("dir_info"):
                diffs.append(f"{di}/direct_url.json: pip {ja}, lavabuild {jb}")
    return diffs


@pytest.mark.parametrize("name", ["hotapp", "cext", "legacy"])
def test_source_trees_match_pip(slb, sources, tmp_path, environ, test_python, name):
    pip_env, lb_env = pip_and_lavabuild(slb, sources, tmp_path, environ, test_python, name)
    diffs = compare_source_installs(pip_env, lb_env)
    assert not diffs, f"{len(diffs)} differences between pip and lavabuild:\n" + "\n".join(diffs[:40])
    from test_differential import check_record_hashes
    assert not check_record_hashes(lb_env)
    r = pip(lb_env / "bin" / "python", "check", environ=environ)
    assert r.returncode == 0, r.describe()


# ---------------------------------------------------------------- 17. locks
def lock_sources(kind: str, sources, tmp_path, environ) -> tuple[str, str, str]:
    """(requirement line, the PEP 751 table the lock must have, what the env's module says)."""
    if kind == "directory":
        project(sources, "hotapp", tmp_path)
        return "./hotapp", "directory", "hotapp views v1"
    if kind == "sdist":
        return "srcpure", "sdist", "srcpure"
    repo, _ = make_git_repo(sources, tmp_path, environ)
    return f"vcsapp @ git+{repo.as_uri()}@fix", "vcs", "vcsapp fix 1"


@pytest.mark.parametrize("kind", ["directory", "sdist", "git"])
def test_lock_records_sources_and_env_builds_them(lb, sources, tmp_path, environ, kind):
    line, table, says = lock_sources(kind, sources, tmp_path, environ)
    name = {"directory": "hotapp", "sdist": "srcpure", "git": "vcsapp"}[kind]
    req = write(tmp_path / "req.txt", line + "\n")
    lock = tmp_path / "pylock.toml"
    lb.run("lock", req, "-o", lock, *index(sources), cwd=tmp_path).ok()
    text = lock.read_text()
    block = re.search(r'^\[\[packages\]\]\nname = "' + name + r'"\n(?:.+\n?)*', text, re.M)
    assert block, text
    entry = block.group(0)
    assert re.search(r"^" + table + r" = \{|^\[packages\." + table + r"\]", entry, re.M), \
        f"{name} is not locked as a PEP 751 `{table}` source:\n{entry}"
    assert not re.search(r"^wheels = ", entry, re.M), f"{name} is locked as a wheel:\n{entry}"
    if kind == "git":
        assert git(tmp_path / "repo", "rev-parse", "fix", environ=environ) in entry, entry
    if kind == "sdist":
        assert file_sha(sources.files / "srcpure-1.0.tar.gz") in entry, entry

    env_dir = tmp_path / "env"
    r = lb.run("env", lock, "-o", env_dir, *index(sources), "--json", cwd=tmp_path)
    assert r.returncode == 0, "env from a lock with a source:\n" + r.describe()
    if kind == "directory":
        assert run([env_dir / "bin" / "hotapp"]).stdout == says + "\n"
    else:
        assert py(env_dir, f"import {name}; print({name}.WHO)") == says
    # the lock builds with the same keys as the requirements: nothing new to build
    rep = lb.env_json(req, "-o", tmp_path / "env-from-req", *index(sources), cwd=tmp_path)
    assert kinds(rep, "build") == [], rep


# ---------------------------------------------------------------- interruptions and other runs
def start_slow_build(lb, sources, tmp_path, seconds: str):
    """A run building slowbuild (its backend runs `sleep SECONDS`), once the sleep is running."""
    tree = project(sources, "slowbuild", tmp_path)
    (tree / "sleep-seconds").write_text(seconds + "\n")
    req = write(tmp_path / "slow.txt", f"{tree}\n")
    p = subprocess.Popen(lb.argv("env", req, "-o", tmp_path / "slow-env", *index(sources),
                                 "--build-timeout", "300"),
                         env=lb.environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while run(["pgrep", "-f", f"sleep {seconds}"]).returncode != 0:
        assert p.poll() is None, "the slow build ended early:\n" + p.communicate()[1]
        assert time.monotonic() < deadline, "the slow build's backend never started"
        time.sleep(0.1)
    return p


@pytest.mark.parametrize("sig,code", [("SIGINT", 130), ("SIGTERM", 143)])
def test_interrupt_during_a_build(lb, sources, tmp_path, sig, code):
    import signal
    token = f"61.{uuid.uuid4().int % 10**9:09d}"
    p = start_slow_build(lb, sources, tmp_path, token)
    p.send_signal(getattr(signal, sig))
    try:
        _, err = p.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        raise AssertionError(f"lavabuild did not stop within 10 s of {sig} during a build")
    assert p.returncode == code, (p.returncode, err)
    assert "interrupted" in err, err
    assert run(["pgrep", "-f", f"sleep {token}"]).returncode == 1, "the backend outlived the run"
    assert not (tmp_path / "slow-env").exists()


def test_a_build_does_not_hold_up_other_runs(lb, sources, tmp_path):
    """A long build on one cache: another run on the same cache (wheels only) is not kept
    waiting for the cache index until the build ends."""
    import signal
    token = f"62.{uuid.uuid4().int % 10**9:09d}"
    p = start_slow_build(lb, sources, tmp_path, token)
    try:
        req = write(tmp_path / "req.txt", "webapp\n")
        r = lb.run("env", req, "-o", tmp_path / "env", *index(sources), timeout=120)
    finally:
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=30)
    r.ok()
    assert "waiting for another lavabuild process" not in r.stderr, r.describe()


# ---------------------------------------------------------------- -j
BARRIER_BEFORE_BUILD = '''
def before_build(config_settings):
    # A rendezvous: each build says it started, then waits for the other one. Builds that run
    # one after the other never meet, and the first gives up with an error.
    import os, time
    with open("rendezvous") as f:
        where, me, other = f.read().split()
    open(os.path.join(where, me), "w").close()
    for _ in range(2400):  # 120 s: a loaded machine may start the other build late
        if os.path.exists(os.path.join(where, other)):
            return {}
        time.sleep(0.05)
    raise RuntimeError(me + " built alone: the builds did not run in parallel")
'''


def test_builds_run_in_parallel(lb, sources, tmp_path):
    """Two local trees whose backends wait for each other: with -j 2 both builds are running
    at once, so both finish (no timing is measured: the builds meet or fail)."""
    from lbtest import TOOLS
    sys.path.insert(0, str(TOOLS))
    import make_fixtures
    meet = tmp_path / "meet"
    meet.mkdir()
    for name, other in (("slowa", "slowb"), ("slowb", "slowa")):
        files = make_fixtures.in_tree_project(name, "1.0", {f"{name}/__init__.py": b""},
                                              BARRIER_BEFORE_BUILD)
        files["rendezvous"] = f"{meet} {name} {other}\n".encode()
        make_fixtures.write_tree(str(tmp_path / name), files)
    req = write(tmp_path / "req.txt", "./slowa\n./slowb\n")
    rep = lb.env_json(req, "-o", tmp_path / "env", *index(sources), "-j", "2", cwd=tmp_path)
    assert kinds(rep, "build") == ["slowa", "slowb"], rep


# ---------------------------------------------------------------- the shared store, last
def test_shared_store_verifies(slb):
    """Everything the builds above put into the module's store is intact (run last)."""
    r = slb.run("cache", "verify").ok()
    assert "all files verified" in r.output, r.describe()
