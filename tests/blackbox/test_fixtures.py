"""Self-tests of the harness (no lavabuild binary needed): generated corpora are deterministic
and installable by pip from nginx, the differential comparer sees differences, the resolver
checker accepts pip's solutions."""
from __future__ import annotations

import json
import sys

import pytest
from lbtest import TOOLS, make_venv, pip, run


def test_corpora_are_deterministic(tmp_path, native_tag):
    for corpus in ("basic", "hostile", "versions", "webapp", "resolver-7"):
        outs = []
        for i in (1, 2):
            d = tmp_path / f"{corpus}-{i}"
            run([sys.executable, TOOLS / "make_fixtures.py", "--out", d / "files", corpus, "--index", d,
                 "--native-tag", native_tag]).ok()
            outs.append({p.relative_to(d): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()})
        assert outs[0] == outs[1], f"{corpus}: two generations differ"


def test_pip_installs_basic_from_nginx(basic, tmp_path, environ, test_python):
    env_dir = tmp_path / "env"
    make_venv(test_python, env_dir, environ)
    pip(env_dir / "bin" / "python", "install", "--no-compile", "-i", basic.index_url,
        "-r", basic.files / "requirements.txt", environ=environ).ok()
    from test_env import check_basic_env
    check_basic_env(env_dir, environ)


def test_versions_index_semantics_with_pip(versions, tmp_path, environ, test_python):
    """pip skips yanked, requires-python-incompatible and pre-releases; honours pins of yanked."""
    def choose(*reqs, pre=False):
        report = tmp_path / "r.json"
        r = pip(test_python, "install", "--dry-run", "--ignore-installed", "--report", report,
                "-i", versions.index_url, *(["--pre"] if pre else []), *reqs, environ=environ)
        if r.returncode:
            return None
        return {i["metadata"]["name"]: i["metadata"]["version"] for i in json.loads(report.read_text())["install"]}
    assert choose("vpkg") == {"vpkg": "1.1"}
    assert choose("vpkg", pre=True) == {"vpkg": "2.0b1"}
    assert choose("vpkg==1.2") == {"vpkg": "1.2"}
    assert choose("vonlypre") == {"vonlypre": "1.0rc1"}
    assert choose("vwantspre") == {"vwantspre": "1.0", "vpkg": "2.0b1"}
    assert choose("vnopy") is None
    assert choose("vconflict-a", "vconflict-b") is None
    assert choose("vepoch") == {"vepoch": "1!0.5"}
    assert choose("vpost") == {"vpost": "1.0.post1"}


def test_differential_comparer_sees_differences(basic, tmp_path, environ, test_python):
    from test_differential import compare_envs
    envs = []
    for name in ("a", "b"):
        d = tmp_path / name
        make_venv(test_python, d, environ)
        pip(d / "bin" / "python", "install", "--no-compile", "--no-index", "-f", basic.files,
            "-r", basic.files / "requirements.txt", environ=environ).ok()
        envs.append(d)
    a, b = envs
    assert compare_envs(a, b) == []
    sp = next(b.glob("lib/python3*/site-packages"))
    (sp / "delta" / "__init__.py").write_text("changed\n")
    (sp / "zeta" / "sub" / "mod.py").unlink()
    (b / "bin" / "alpha-sh").chmod(0o644)
    diffs = "\n".join(compare_envs(a, b))
    for text in ("content differs: lib", "delta/__init__.py", "only pip installed", "zeta/sub/mod.py",
                 "exec bit differs: bin/alpha-sh"):
        assert text in diffs, diffs


@pytest.mark.parametrize("seed", [1, 4, 6, 8, 12])
def test_resolver_checker_accepts_pip(seed, tmp_path, environ, test_python):
    from test_resolver_diff import load_corpus, python_version, unsatisfied
    d = tmp_path / "idx"
    run([sys.executable, TOOLS / "make_fixtures.py", "--out", d / "files", f"resolver-{seed}"]).ok()
    report = tmp_path / "r.json"
    r = pip(test_python, "install", "--dry-run", "--ignore-installed", "--report", report, "--no-index",
            "-f", d / "files", "-r", d / "files" / "requirements.txt", environ=environ, timeout=180)
    meta, roots = load_corpus(seed)
    if r.returncode:  # pip found no solution: nothing to check it against, but say why
        assert "ResolutionImpossible" in r.stderr, r.describe()
        return
    chosen = {i["metadata"]["name"]: i["metadata"]["version"] for i in json.loads(report.read_text())["install"]}
    from lbtest import normalize
    chosen = {normalize(k): v for k, v in chosen.items()}
    assert unsatisfied(chosen, meta, roots, python_version(test_python)) == []
    bad = dict(chosen)
    first = sorted(bad)[0]
    bad[first] = "0.0.1"
    assert unsatisfied(bad, meta, roots, python_version(test_python)), "checker accepted a wrong version"


def test_nginx_serves_metadata_and_yanked(versions, environ):
    import urllib.request
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    page = opener.open(versions.index_url + "/vpkg/").read().decode()
    assert 'data-yanked="broken release"' in page and 'data-requires-python="&gt;=4.0"' in page
    meta = opener.open(versions.files_url + "vpkg-1.0-py3-none-any.whl.metadata").read().decode()
    assert "Name: vpkg" in meta


def test_examples_webapp_wheels_are_current(tmp_path):
    """examples/webapp/wheels are what make_fixtures.py generates today."""
    from lbtest import REPO
    out = tmp_path / "w"
    run([sys.executable, TOOLS / "make_fixtures.py", "--out", out, "webapp"]).ok()
    committed = REPO / "examples" / "webapp" / "wheels"
    gen = {p.name: p.read_bytes() for p in out.glob("*.whl")}
    have = {p.name: p.read_bytes() for p in committed.glob("*.whl")}
    assert gen == have, "regenerate: tools/make_fixtures.py --out examples/webapp/wheels webapp"
    total = sum(p.stat().st_size for p in committed.rglob("*") if p.is_file())
    assert total < 1_000_000
