"""Messages a user can act on (issue 7 B8), against small indexes written here
(tools/make_fixtures.py's Dist, build_wheel, build_sdist and write_index) and served by the
session's nginx.

Every failure names what was asked (the index page), why nothing fits, the requirement's
file:line, and the fix; it exits 1 with one `error:` and no resolver chain ("Because ...")
when the reason is the files themselves. Also: an unknown extra is a warning, and --seed
installs pip (and setuptools where venv seeds it) from the index or the interpreter's
bundled wheels.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from lbtest import PY_WHEELS, TOOLS, run, site_packages, write

sys.path.insert(0, str(TOOLS))
import make_fixtures  # noqa: E402
from make_fixtures import Dist  # noqa: E402


def dist(name, version, **kw) -> Dist:
    pkg = make_fixtures.escape(name)
    return Dist(name, version, files={f"{pkg}/__init__.py": make_fixtures.py_module(pkg, version)}, **kw)


@pytest.fixture(scope="module")
def other_python_tag(test_python) -> tuple[str, str]:
    """(a tag of this platform for the next CPython, one of the same CPython for Windows)."""
    code = ("import sys, sysconfig; print(sys.version_info[1], "
            "sysconfig.get_platform().replace('-', '_').replace('.', '_'))")
    minor, plat = subprocess.run([test_python, "-c", code], check=True, capture_output=True,
                                 text=True).stdout.split()
    nxt, cur = f"cp3{int(minor) + 1}", f"cp3{minor}"
    return f"{nxt}-{nxt}-{plat}", f"{cur}-{cur}-win_amd64"


@pytest.fixture(scope="module")
def index(served_root, nginx, other_python_tag) -> str:
    root = served_root / "messages"
    files = root / "files"
    files.mkdir(parents=True, exist_ok=True)
    same_platform, windows = other_python_tag
    wheels = [dist("hashed", "1.0"),
              dist("otherplat", "1.0", purelib=False, tag=windows),
              dist("otherplat", "1.0", purelib=False, tag=same_platform),
              dist("oldpy", "1.0", requires_python="<3"),
              dist("oldpy", "2.0", requires_python=">=4"),
              dist("yanky", "1.0"),
              dist("app", "1.0", requires=["core>=1.0,<=3.0"]),
              dist("core", "1.0.0"), dist("core", "2.0.0b1"),
              dist("extras", "1.0", extras=["fast"])]
    for d in wheels:
        make_fixtures.build_wheel(d, str(files))
    make_fixtures.build_sdist(dist("srconly", "1.0"), str(files))
    make_fixtures.write_index(str(root), {"yanky-1.0-py3-none-any.whl": "bad build"})
    return nginx.url("/messages/simple")


def fails_once(r, *wanted):
    """Exit 1, one error with a hint, no resolver chain, and every `wanted` text in it."""
    assert r.returncode == 1, r.describe()
    err = r.stderr
    assert err.count("error:") == 1 and err.count("hint:") == 1, err
    assert "Because" not in err and "no solution exists" not in err, err
    for w in wanted:
        assert w in err, f"{w!r} not in:\n{err}"
    return err


def env(lb, tmp_path, requirements: str, *args):
    req = write(tmp_path / "requirements.txt", "# messages\n" + requirements)
    return lb.run("env", req, "-o", tmp_path / "venv", *args, timeout=300)


def test_hash_mismatch_names_expected_got_and_the_line(lb, index, tmp_path):
    zeros = "0" * 64
    r = env(lb, tmp_path, f"hashed==1.0 --hash=sha256:{zeros}\n", "-i", index)
    err = fails_once(r, "hash mismatch", f"expected sha256:{zeros}", "got      sha256:",
                     "requirements.txt:2", "/messages/files/hashed-1.0-py3-none-any.whl")
    assert "not available" not in err
    assert not (tmp_path / "venv").exists()


def test_no_such_project_names_the_page_asked(lb, index, tmp_path):
    fails_once(env(lb, tmp_path, "nosuchproject\n", "-i", index),
               "requirements.txt:2: nosuchproject: no project named 'nosuchproject' on "
               + index + "/nosuchproject/", "check the spelling")


def test_only_an_sdist_under_only_binary_says_so(lb, index, tmp_path):
    fails_once(env(lb, tmp_path, "srconly\n", "-i", index, "--only-binary", ":all:"),
               "requirements.txt:2: srconly: nothing on " + index + "/srconly/",
               "srconly 1.0 is only a source archive (not built: --only-binary)",
               "drop it from --only-binary")


def test_only_an_sdist_is_built(lb, index, tmp_path):
    r = env(lb, tmp_path, "srconly\n", "-i", index, "--json").ok()
    assert {"kind": "build", "package": "srconly"} in r.json()["executed"], r.stdout
    assert list((tmp_path / "venv").glob("lib/python3*/site-packages/srconly-1.0.dist-info/METADATA"))


def test_wheels_for_other_tags_name_the_closest_first(lb, index, tmp_path, other_python_tag):
    same_platform, windows = other_python_tag
    fails_once(env(lb, tmp_path, "otherplat==1.0\n", "-i", index),
               "requirements.txt:2: otherplat==1.0: nothing on " + index + "/otherplat/",
               f"otherplat 1.0 has wheels only for other tags: {same_platform}, {windows}",
               "this interpreter takes ", "--python")


def test_requires_python_names_the_versions_and_the_interpreter(lb, index, tmp_path, test_python):
    version = run([test_python, "-c", "import platform; print(platform.python_version())"]).ok().stdout.strip()
    fails_once(env(lb, tmp_path, "oldpy\n", "-i", index),
               "requirements.txt:2: oldpy: nothing on " + index + "/oldpy/",
               "oldpy 2.0 requires Python >=4", "oldpy 1.0 requires Python <3",
               f"is Python {version}", "--python")


def test_all_matching_versions_yanked(lb, index, tmp_path):
    r = env(lb, tmp_path, "yanky>=1\n", "-i", index)
    assert r.returncode == 1, r.describe()
    err = r.stderr
    assert err.count("error:") == 1 and err.count("hint:") == 1, err
    assert 'yanky 1.0 (yanked: "bad build")' in err, err
    assert "pin the yanked release exactly" in err
    assert "yanky was looked up on " + index + "/yanky/" in err
    assert "--pre" not in err


def test_pre_hint_only_when_a_prerelease_would_match(lb, index, tmp_path):
    r = env(lb, tmp_path, "app\ncore!=1.0.0,<=3\n", "-i", index)
    assert r.returncode == 1, r.describe()
    assert "core 2.0.0b1 would match" in r.stderr and "--pre" in r.stderr, r.stderr
    # No pre-release fits core>=5: no word about pre-releases.
    r = env(lb, tmp_path, "core>=5\n", "-i", index)
    assert r.returncode == 1, r.describe()
    assert "--pre" not in r.stderr and "pre-release" not in r.stderr, r.stderr
    assert "no versions of core match >=5" in r.stderr


def test_unknown_extra_is_a_warning(lb, index, tmp_path):
    r = env(lb, tmp_path, "extras[fast,nosuch]==1.0\n", "-i", index)
    assert r.returncode == 0, r.describe()
    assert "extras 1.0 does not provide the extra 'nosuch'" in r.stderr, r.stderr
    assert "'fast'" not in r.stderr
    assert (site_packages(tmp_path / "venv") / "extras").is_dir()


# ---------------------------------------------------------------- --seed
def seed_names(test_python) -> set:
    minor = int(run([test_python, "-c", "import sys; print(sys.version_info[1])"]).ok().stdout)
    return {"pip", "setuptools"} if minor < 12 else {"pip"}


def assert_working_pip(env_dir: Path, environ, names: set):
    r = run([env_dir / "bin" / "pip", "--version"], env=environ)
    assert r.returncode == 0 and str(env_dir) in r.stdout, r.describe()
    r = run([env_dir / "bin" / "python", "-m", "pip", "check"], env=environ)
    assert r.returncode == 0 and "No broken requirements" in r.stdout, r.describe()
    installed = {p.name.split("-")[0].lower() for p in site_packages(env_dir).glob("*.dist-info")}
    assert names <= installed and ("setuptools" in names) == ("setuptools" in installed), installed


def test_seed_from_the_index(lb, served_root, nginx, tmp_path, environ, test_python):
    wheels = sorted(PY_WHEELS.glob("pip-*.whl")) + sorted(PY_WHEELS.glob("setuptools-*.whl"))
    if len(wheels) < 2:
        from lbtest import missing_prerequisite
        missing_prerequisite(f"pip and setuptools wheels in {PY_WHEELS} (python3-pip-whl, python3-setuptools-whl)")
    root = served_root / "messages-seed"
    (root / "files").mkdir(parents=True, exist_ok=True)
    for w in wheels:
        shutil.copy(w, root / "files")
    make_fixtures.build_wheel(dist("plain", "1.0"), str(root / "files"))
    make_fixtures.write_index(str(root))
    r = env(lb, tmp_path, "plain\n", "-i", nginx.url("/messages-seed/simple"), "--seed")
    assert r.returncode == 0, r.describe()
    assert_working_pip(tmp_path / "venv", environ, seed_names(test_python))
    with open(nginx.access_log) as f:
        log = f.read()
    assert "/messages-seed/files/pip-" in log, "pip did not come from the index"


def test_seed_from_the_bundled_wheels(lb, tmp_path, environ, test_python):
    code = ("import os, sysconfig; d = [sysconfig.get_config_var('WHEEL_PKG_DIR') or '', "
            "os.path.join(sysconfig.get_paths()['stdlib'], 'ensurepip', '_bundled')]; "
            "print(any(f.startswith('pip-') for x in d if os.path.isdir(x) for f in os.listdir(x)))")
    if run([test_python, "-c", code]).ok().stdout.strip() != "True":
        from lbtest import missing_prerequisite
        missing_prerequisite(f"{test_python} has no bundled pip wheel (ensurepip)")
    links = tmp_path / "links"
    links.mkdir()
    make_fixtures.build_wheel(dist("plain", "1.0"), str(links))
    r = env(lb, tmp_path, "plain\n", "--no-index", "-f", links, "--seed")
    assert r.returncode == 0, r.describe()
    assert_working_pip(tmp_path / "venv", environ, seed_names(test_python))
    assert sorted(os.listdir(links)) == ["plain-1.0-py3-none-any.whl"]


def test_a_conflict_names_the_requirements_and_their_lines(lb, index, tmp_path):
    req = write(tmp_path / "req.txt", "# pinned twice\nhashed==1.0\nhashed<1\n")
    r = lb.run("env", req, "-o", tmp_path / "env", "-i", index).fails(1)
    assert "the requirements involved:" in r.stderr, r.describe()
    assert f"hashed==1.0 ({req}:2)" in r.stderr and f"hashed<1 ({req}:3)" in r.stderr, r.describe()


def test_a_mistyped_upgrade_or_reinstall_package_is_a_warning(lb, index, tmp_path):
    req = write(tmp_path / "req.txt", "hashed==1.0\n")
    r = lb.run("env", req, "-o", tmp_path / "env", "-i", index, "-P", "hahsed",
               "--reinstall-package", "Hashed").ok()
    assert "-P/--upgrade-package hahsed: no distribution of that name" in r.stderr, r.describe()
    assert "--reinstall-package Hashed" not in r.stderr, r.describe()
