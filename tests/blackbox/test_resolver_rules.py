"""Resolver scenarios for the per-package rules of issue 11, against small indexes written
here (tools/make_fixtures.py's Dist, build_wheel and write_index) and served by the session's
nginx:

- a yanked release pinned exactly by the user is used for every requirement on the package
  (PEP 592), with a warning that says why it was yanked;
- a user's requirement mentioning a pre-release opts that package into pre-releases for every
  requirement on it (PEP 440);
- when yanked releases or pre-releases that would match were left out, the failure names
  them, the rule, and the fix (--pre or an exact pin).
"""
from __future__ import annotations

import sys
import tomllib

import pytest
from lbtest import TOOLS, normalize, write

sys.path.insert(0, str(TOOLS))
import make_fixtures  # noqa: E402
from make_fixtures import Dist  # noqa: E402

# name -> (dists, {wheel filename: yanked reason})
SCENARIOS = {
    "yanked-pin": (
        [Dist("app", "1.0", requires=["lib>0.1"], metadata_only=True),
         Dist("lib", "0.5", metadata_only=True),
         Dist("lib", "1.0.0", metadata_only=True)],
        {"lib-1.0.0-py3-none-any.whl": "memory leak in the cache layer"},
    ),
    "pre-optin": (
        [Dist("app", "1.0", requires=["core>=1.0,<=3.0"], metadata_only=True),
         Dist("core", "1.0.0", metadata_only=True),
         Dist("core", "2.0.0b1", metadata_only=True)],
        {},
    ),
}


@pytest.fixture(scope="module")
def indexes(served_root, nginx) -> dict:
    urls = {}
    for name, (dists, yanked) in SCENARIOS.items():
        root = served_root / f"rules-{name}"
        files = root / "files"
        files.mkdir(parents=True, exist_ok=True)
        for d in dists:
            make_fixtures.build_wheel(d, str(files))
        make_fixtures.write_index(str(root), yanked)
        urls[name] = nginx.url(f"/rules-{name}/simple")
    return urls


def lock(lb, tmp_path, url: str, requirements: str, *args):
    # A fresh lock file each time: an existing one's pins would be preferences.
    n = len(list(tmp_path.glob("pylock-*.toml")))
    req = write(tmp_path / f"requirements-{n}.txt", requirements)
    out = tmp_path / f"pylock-{n}.toml"
    out.write_text("")
    out.unlink()
    r = lb.run("lock", req, "-o", out, "-i", url, *args, timeout=120)
    chosen = {}
    if r.returncode == 0:
        chosen = {normalize(p["name"]): p["version"] for p in tomllib.loads(out.read_text())["packages"]}
    return r, chosen


def test_yanked_pin_holds_for_a_looser_transitive_requirement(lb, indexes, tmp_path):
    r, chosen = lock(lb, tmp_path, indexes["yanked-pin"], "lib==1.0.0\napp\n")
    assert r.returncode == 0, r.describe()
    assert chosen == {"app": "1.0", "lib": "1.0.0"}
    # The warning names the release and says why it was yanked.
    assert "lib 1.0.0 is yanked" in r.stderr, r.stderr
    assert "memory leak in the cache layer" in r.stderr, r.stderr
    assert "lib==1.0.0" in r.stderr


def test_yanked_release_installs_into_an_env(lb, indexes, tmp_path):
    req = write(tmp_path / "requirements.txt", "app\nlib===1.0.0\n")
    r = lb.run("env", req, "-o", tmp_path / "venv", "-i", indexes["yanked-pin"], "--json", timeout=300)
    assert r.returncode == 0, r.describe()
    assert "memory leak" in r.stderr


def test_yanked_release_left_out_is_named_with_the_fix(lb, indexes, tmp_path):
    # Unpinned, the yanked 1.0.0 is not a candidate: app's lib>0.1 takes 0.5 ...
    r, chosen = lock(lb, tmp_path, indexes["yanked-pin"], "app\n")
    assert r.returncode == 0 and chosen["lib"] == "0.5", r.describe()
    assert "is yanked" not in r.stderr
    # ... and when nothing else fits, the failure says what was left out and why.
    r, _ = lock(lb, tmp_path, indexes["yanked-pin"], "app\nlib>=1\n")
    assert r.returncode == 1, r.describe()
    err = r.stderr
    assert "lib 1.0.0 (yanked: \"memory leak in the cache layer\") would match lib>=1" in err, err
    assert "a yanked release is used only when your requirements pin it exactly (e.g. lib==1.0.0)" in err
    assert "pin the yanked release exactly" in err


def test_prerelease_opt_in_at_the_root_holds_for_a_transitive_range(lb, indexes, tmp_path):
    r, chosen = lock(lb, tmp_path, indexes["pre-optin"], "core>=0.0.0a1\napp\n")
    assert r.returncode == 0, r.describe()
    assert chosen == {"app": "1.0", "core": "2.0.0b1"}
    # Any operator counts as mentioning a pre-release.
    r, chosen = lock(lb, tmp_path, indexes["pre-optin"], "app\ncore!=9.0a1\n")
    assert r.returncode == 0 and chosen["core"] == "2.0.0b1", r.describe()
    # Without the opt-in the final release; with --pre, pre-releases everywhere.
    r, chosen = lock(lb, tmp_path, indexes["pre-optin"], "app\n")
    assert r.returncode == 0 and chosen["core"] == "1.0.0", r.describe()
    r, chosen = lock(lb, tmp_path, indexes["pre-optin"], "app\n", "--pre")
    assert r.returncode == 0 and chosen["core"] == "2.0.0b1", r.describe()


def test_prerelease_left_out_is_named_with_the_fix(lb, indexes, tmp_path):
    # The user pins nothing about core, but excludes 1.0.0: only the pre-release would fit
    # both requirements, and neither mentions a pre-release.
    r, _ = lock(lb, tmp_path, indexes["pre-optin"], "app\ncore!=1.0.0,<=3\n")
    assert r.returncode == 1, r.describe()
    err = r.stderr
    assert "core 2.0.0b1 would match" in err, err
    assert "it is a pre-release" in err
    assert "pre-releases of a package are used only when your own requirements on it mention one" in err
    assert "--pre" in err
    # The fixes the message names both work.
    r, chosen = lock(lb, tmp_path, indexes["pre-optin"], "app\ncore!=1.0.0,<=3\n", "--pre")
    assert r.returncode == 0 and chosen["core"] == "2.0.0b1", r.describe()
    r, chosen = lock(lb, tmp_path, indexes["pre-optin"], "app\ncore!=1.0.0,<=3\ncore==2.0.0b1\n")
    assert r.returncode == 0 and chosen["core"] == "2.0.0b1", r.describe()
