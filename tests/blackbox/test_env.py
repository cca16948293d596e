"""`lavabuild env` end to end: index and find-links sources, a working venv, --json,
incremental re-runs, link modes, concurrency, offline, plan, hashes and clear failures."""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest
from lbtest import executed_by_package, file_sha, normalize, run, site_packages, snapshot, write

BASIC_PACKAGES = {"alpha": "1.0", "beta": "1.0", "delta": "0.5", "eta": "1.0", "gamma": "2.0",
                  "kappa": "1.0", "mixed-case-name": "1.0", "native-ext": "1.0", "ns-pkg-a": "1.0",
                  "ns-pkg-b": "1.0", "zeta": "3.1"}


def basic_req(tmp_path: Path, basic, name="req.txt", beta="1.0") -> Path:
    text = (basic.files / "requirements.txt").read_text().replace("beta==1.0", f"beta=={beta}")
    return write(tmp_path / name, text)


def py(env_dir: Path, code: str, environ) -> str:
    return run([env_dir / "bin" / "python", "-c", code], env=environ).ok().stdout


def check_basic_env(env_dir: Path, environ) -> None:
    """The basic corpus env works: imports, native code, scripts, .data placement."""
    out = py(env_dir, "import alpha, beta, gamma, delta, zeta, eta.sub.deep.leaf, kappa, kappa_pure, kappa_plat, "
                      "mixedcase, nspkg.a, nspkg.b, native_ext, json, importlib.resources as r; "
                      "print(native_ext.native(), native_ext.native_name(), eta.sub.deep.leaf.LEAF, "
                      "json.loads(r.files('alpha').joinpath('resources/config.json').read_text())['alpha'])",
             environ)
    assert out.split() == ["42", "native_ext", "True", "True"]
    out = run([env_dir / "bin" / "alpha-cli"], env=environ).ok().stdout
    assert out.strip() == "alpha-cli ok 1.0 2.0"
    gui = env_dir / "bin" / "alpha-gui"
    assert gui.is_file() and os.access(gui, os.X_OK), "gui script missing or not executable"
    assert "alpha.gui" in gui.read_text()
    assert run([gui], env=environ).ok().stdout.strip() == "alpha-gui ok"
    tool = env_dir / "bin" / "alpha-tool"
    first = tool.read_text().splitlines()[0]
    assert first.startswith("#!") and first != "#!python", f"#!python not rewritten: {first!r}"
    assert run([tool], env=environ).ok().stdout.strip() == "alpha-tool ok 1.0"
    assert run([env_dir / "bin" / "alpha-sh"], env=environ).ok().stdout.strip() == "alpha-sh ok"
    assert (env_dir / "share" / "alpha" / "readme.txt").read_text() == "alpha shared data\n"
    headers = list((env_dir / "include").rglob("alpha.h"))
    assert headers, "headers from .data/headers not installed under include/"
    sp = site_packages(env_dir)
    assert (sp / "eta-hook.pth").is_file()
    assert not (sp / "epsilon").exists() and not list(sp.glob("nonexistent*"))
    assert (env_dir / "pyvenv.cfg").is_file()


def check_report(rep: dict, env_dir: Path) -> None:
    for key, typ in (("env", str), ("digest", str), ("packages", list), ("executed", list),
                     ("cache_hits", int), ("downloaded_bytes", int), ("seconds", (int, float))):
        assert isinstance(rep.get(key), typ), f"--json field {key!r} missing or not {typ}: {rep}"
    assert os.path.realpath(rep["env"]) == os.path.realpath(env_dir)
    assert re.fullmatch(r"[0-9a-f]{64}", rep["digest"]), rep["digest"]
    for e in rep["executed"]:
        assert e["kind"] in ("fetch", "unpack", "build", "compile", "link") and e["package"], e
    assert rep["seconds"] >= 0 and rep["cache_hits"] >= 0 and rep["downloaded_bytes"] >= 0


def packages_of(rep: dict) -> dict:
    return {normalize(p["name"]): p["version"] for p in rep["packages"]}


# ------------------------------------------------------------------ sources
def test_env_from_nginx_index(lb, basic, tmp_path, environ, nginx):
    env_dir = tmp_path / "env"
    rep = lb.env_json(basic_req(tmp_path, basic), "-o", env_dir, "-i", basic.index_url)
    check_report(rep, env_dir)
    assert packages_of(rep) == BASIC_PACKAGES
    assert rep["downloaded_bytes"] > 0, "wheels came from nginx, downloaded_bytes must count them"
    check_basic_env(env_dir, environ)
    log = Path(nginx.access_log).read_text()
    assert "/basic/simple/alpha/" in log and "/basic/files/alpha-1.0-py3-none-any.whl" in log


def test_env_from_find_links_dir(lb, basic, tmp_path, environ):
    env_dir = tmp_path / "env"
    rep = lb.env_json(basic_req(tmp_path, basic), "-o", env_dir, "--no-index", "-f", basic.files)
    check_report(rep, env_dir)
    assert packages_of(rep) == BASIC_PACKAGES
    check_basic_env(env_dir, environ)
    by_pkg = executed_by_package(rep)
    for name in BASIC_PACKAGES:
        assert "link" in by_pkg.get(name, set()), f"cold run did not link {name}: {rep['executed']}"
        assert "unpack" in by_pkg.get(name, set()), f"cold run did not unpack {name}: {rep['executed']}"


def test_cache_dir_from_environment_variable(lb, basic, tmp_path, environ):
    req = write(tmp_path / "req.txt", "delta==0.5\n")
    cache = tmp_path / "env-var-cache"
    env = dict(lb.environ, LAVABUILD_CACHE_DIR=str(cache))
    run([lb.binary, "env", req, "-o", tmp_path / "env", "--no-index", "-f", basic.files,
         "--python", lb.python], env=env).ok()
    assert cache.is_dir() and any(cache.iterdir()), "LAVABUILD_CACHE_DIR was not used as the cache"


def test_usage_error_exits_2(lb, tmp_path):
    r = lb.run("env", "--definitely-not-an-option", "-o", tmp_path / "env")
    r.fails(2)
    assert r.stderr.strip(), "usage error must say something on stderr"


# ------------------------------------------------------------------ incremental
def test_noop_rerun_executes_nothing(lb, basic, tmp_path):
    env_dir, req = tmp_path / "env", basic_req(tmp_path, basic)
    first = lb.env_json(req, "-o", env_dir, "--no-index", "-f", basic.files)
    before = snapshot(env_dir, skip={".lavabuild"})
    second = lb.env_json(req, "-o", env_dir, "--no-index", "-f", basic.files)
    assert second["executed"] == [], f"no-op re-run executed steps: {second['executed']}"
    assert second["digest"] == first["digest"]
    assert snapshot(env_dir, skip={".lavabuild"}) == before, "no-op re-run changed the env"


SKELETON = ("pyvenv.cfg", "bin/activate", "bin/activate.csh", "bin/activate.fish", "bin/Activate.ps1")


@pytest.mark.parametrize("part", ["packages", "venv-skeleton"])
def test_change_one_pin_rebuilds_only_that_package(lb, basic, tmp_path, environ, part):
    """packages: files of other packages keep inode+content; venv-skeleton: so do pyvenv.cfg and
    the activate scripts (nothing about them changed)."""
    env_dir = tmp_path / "env"
    first = lb.env_json(basic_req(tmp_path, basic, "a.txt"), "-o", env_dir, "--no-index", "-f", basic.files)
    sp = site_packages(env_dir)
    rel_sp = os.path.relpath(sp, env_dir)

    def is_beta(rel):
        return rel.startswith(f"{rel_sp}/beta") or ".lavabuild" in rel

    def files(snap):  # regular files (not dirs) of the other packages, or of the venv skeleton
        return {k: v for k, v in snap.items() if v[0] == "file" and not is_beta(k)
                and (k in SKELETON) == (part == "venv-skeleton")}

    before = files(snapshot(env_dir))
    second = lb.env_json(basic_req(tmp_path, basic, "b.txt", beta="1.1"), "-o", env_dir,
                         "--no-index", "-f", basic.files)
    by_pkg = executed_by_package(second)
    assert set(by_pkg) == {"beta"}, f"only beta may run, executed: {second['executed']}"
    assert by_pkg["beta"] <= {"fetch", "unpack", "compile", "link"} and "link" in by_pkg["beta"], by_pkg
    assert packages_of(second)["beta"] == "1.1" and second["digest"] != first["digest"]
    assert py(env_dir, "import beta, beta.util; print(beta.__version__, beta.util.VALUE)", environ).split() == \
        ["1.1", "1.1"]
    assert not (sp / "beta-1.0.dist-info").exists() and (sp / "beta-1.1.dist-info").is_dir()
    after = files(snapshot(env_dir))
    changed = sorted(k for k in before if after.get(k) != before[k])
    assert not changed, f"files of unchanged packages were rewritten (inode/content): {changed[:20]}"


def test_warm_cache_new_env_only_links_and_shares_inodes(lb, basic, tmp_path, environ):
    req = basic_req(tmp_path, basic)
    a, b = tmp_path / "a", tmp_path / "b"
    lb.env_json(req, "-o", a, "--no-index", "-f", basic.files)
    rep = lb.env_json(req, "-o", b, "--no-index", "-f", basic.files)
    kinds = {e["kind"] for e in rep["executed"]}
    assert not kinds & {"unpack", "build"}, f"warm run unpacked/built again: {rep['executed']}"
    assert rep["cache_hits"] > 0
    check_basic_env(b, environ)
    fa, fb = site_packages(a) / "delta" / "__init__.py", site_packages(b) / "delta" / "__init__.py"
    assert fa.stat().st_ino == fb.stat().st_ino, "default link mode must hard-link identical files"
    assert fb.stat().st_nlink >= 2


def test_link_mode_copy_gives_own_inodes(lb, basic, tmp_path, environ):
    req = basic_req(tmp_path, basic)
    a, b = tmp_path / "a", tmp_path / "b"
    lb.env_json(req, "-o", a, "--no-index", "-f", basic.files)
    lb.env_json(req, "-o", b, "--no-index", "-f", basic.files, "--link-mode", "copy")
    check_basic_env(b, environ)
    for rel in ("delta/__init__.py", "native_ext/_native.so", "zeta/sub/mod.py"):
        fa, fb = site_packages(a) / rel, site_packages(b) / rel
        assert fa.stat().st_ino != fb.stat().st_ino, f"{rel}: copy mode shares an inode"
        assert fb.stat().st_nlink == 1, f"{rel}: copy mode file has {fb.stat().st_nlink} links"
        assert file_sha(fa) == file_sha(fb)


def test_two_processes_on_same_cache(lb, basic, tmp_path, environ):
    req = basic_req(tmp_path, basic)
    procs = [lb.popen("env", req, "-o", tmp_path / f"env{i}", "-i", basic.index_url, "--json") for i in (1, 2)]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, f"concurrent run failed: exit {p.returncode}\n{out}\n{err}"
    for i in (1, 2):
        check_basic_env(tmp_path / f"env{i}", environ)
    lb.run("cache", "verify").ok()


def test_offline_after_server_stopped(lb, basic, served_root, tmp_path, environ):
    """Same index URL, its nginx gone: --offline works from the cache for pinned requirements."""
    import serve_index
    req = basic_req(tmp_path, basic)
    with serve_index.Nginx(str(served_root)) as own:
        url = own.url("/basic/simple")
        lb.env_json(req, "-o", tmp_path / "online", "-i", url)
    rep = lb.env_json(req, "-o", tmp_path / "offline", "-i", url, "--offline")
    assert packages_of(rep) == BASIC_PACKAGES and rep["downloaded_bytes"] == 0
    check_basic_env(tmp_path / "offline", environ)


def test_offline_from_filled_cache(lb, basic, tmp_path, environ, closed_port_url):
    """A different (dead) index URL with --offline: pinned requirements come from the cache."""
    req = basic_req(tmp_path, basic)
    lb.env_json(req, "-o", tmp_path / "online", "-i", basic.index_url)
    rep = lb.env_json(req, "-o", tmp_path / "offline", "-i", closed_port_url, "--offline")
    assert packages_of(rep) == BASIC_PACKAGES
    assert rep["downloaded_bytes"] == 0
    check_basic_env(tmp_path / "offline", environ)


# ------------------------------------------------------------------ plan
def _steps(obj):
    if isinstance(obj, dict):
        for key in ("steps", "nodes"):
            if isinstance(obj.get(key), list):
                return obj[key]
    assert isinstance(obj, list), f"plan json has no list of steps: {str(obj)[:500]}"
    return obj


def test_plan_formats(lb, basic, tmp_path):
    req, env_dir = basic_req(tmp_path, basic), tmp_path / "env"
    common = (req, "-o", env_dir, "--no-index", "-f", basic.files)
    steps = _steps(lb.run("plan", *common, "--format", "json").ok().json())
    assert not env_dir.exists(), "plan must not build the env"
    pkgs = {normalize(s.get("package", "")) for s in steps}
    assert set(BASIC_PACKAGES) <= pkgs, f"plan misses packages: {set(BASIC_PACKAGES) - pkgs}"
    for s in steps:
        assert s.get("kind") in ("fetch", "unpack", "build", "compile", "link"), s
    to_run = [s for s in steps if s.get("needs_run", True)]
    assert to_run and all(s.get("reason") for s in to_run), "steps that would run must say why"
    dot = lb.run("plan", *common, "--format", "dot").ok().stdout
    assert dot.lstrip().startswith(("digraph", "strict digraph")) and "->" in dot and "native-ext" in dot
    text = lb.run("plan", *common, "--format", "text").ok().stdout
    for name in ("alpha", "native-ext", "zeta"):
        assert name in text.lower(), f"text plan does not mention {name}"
    lb.env_json(*common)
    after = _steps(lb.run("plan", *common, "--format", "json").ok().json())
    still = [s for s in after if s.get("needs_run")]
    assert not still, f"plan after a successful env still wants to run: {still}"


# ------------------------------------------------------------------ hashes
def _hash_req(tmp_path, basic, delta_hash=None):
    dh = delta_hash or file_sha(basic.wheel("delta-0.5"))
    zh = file_sha(basic.wheel("zeta-3.1"))
    return write(tmp_path / "hashed.txt", f"delta==0.5 --hash=sha256:{dh}\nzeta==3.1 \\\n    --hash=sha256:{zh}\n")


def test_require_hashes_correct(lb, basic, tmp_path, environ):
    env_dir = tmp_path / "env"
    rep = lb.env_json(_hash_req(tmp_path, basic), "-o", env_dir, "--require-hashes", "--no-index", "-f", basic.files)
    assert packages_of(rep) == {"delta": "0.5", "zeta": "3.1"}
    assert py(env_dir, "import delta, zeta; print(delta.__version__)", environ).strip() == "0.5"


@pytest.mark.parametrize("flag", [["--require-hashes"], []], ids=["flag", "hash-in-file"])
def test_wrong_hash_fails_without_env(lb, basic, tmp_path, flag):
    wrong = hashlib.sha256(b"not the wheel").hexdigest()
    got = file_sha(basic.wheel("delta-0.5"))
    env_dir = tmp_path / "env"
    r = lb.run("env", _hash_req(tmp_path, basic, wrong), "-o", env_dir, *flag, "--no-index", "-f", basic.files)
    r.fails(1)
    assert wrong in r.stderr and got in r.stderr, "hash mismatch must show expected and actual\n" + r.describe()
    assert "delta" in r.stderr
    assert not env_dir.exists(), "a failed run must not leave an env behind"


def test_require_hashes_needs_pins(lb, basic, tmp_path):
    req = write(tmp_path / "req.txt", f"delta --hash=sha256:{file_sha(basic.wheel('delta-0.5'))}\n")
    r = lb.run("env", req, "-o", tmp_path / "env", "--require-hashes", "--no-index", "-f", basic.files)
    r.fails(1)
    assert "delta" in r.stderr and "req.txt" in r.stderr


# ------------------------------------------------------------------ failures
def test_missing_package(lb, basic, tmp_path):
    req = write(tmp_path / "req.txt", "delta==0.5\ndoesnotexist==1.0\n")
    r = lb.run("env", req, "-o", tmp_path / "env", "-i", basic.index_url)
    r.fails(1)
    assert "doesnotexist" in r.stderr
    assert not (tmp_path / "env").exists()


def test_no_compatible_wheel_names_tags(lb, basic, tmp_path):
    req = write(tmp_path / "req.txt", "winonly==1.0\n")
    r = lb.run("env", req, "-o", tmp_path / "env", "--no-index", "-f", basic.files)
    r.fails(1)
    assert "winonly" in r.stderr and "win_amd64" in r.stderr, r.describe()


def test_server_down_is_a_clear_error(lb, tmp_path, closed_port_url):
    req = write(tmp_path / "req.txt", "delta==0.5\n")
    r = lb.run("env", req, "-o", tmp_path / "env", "-i", closed_port_url, timeout=120)
    r.fails(1)
    port = closed_port_url.split(":")[2].split("/")[0]
    assert f"127.0.0.1:{port}" in r.stderr, r.describe()
    assert "Traceback" not in r.stderr and not (tmp_path / "env").exists()


@pytest.mark.parametrize("line", ["zeta[bad==1.0", "zeta==1.0 ; python_version >>> '3'", "zeta=>1.0"])
def test_malformed_requirement_names_file_and_line(lb, basic, tmp_path, line):
    req = write(tmp_path / "req.txt", f"delta==0.5\n# a comment\n{line}\n")
    r = lb.run("env", req, "-o", tmp_path / "env", "--no-index", "-f", basic.files)
    r.fails(1)
    assert "req.txt:3" in r.stderr, r.describe()


@pytest.mark.parametrize("bad", ["doesnotexist==1.0\n", "delta==0.5\nzeta[bad==1.0\n", "winonly==1.0\n"],
                         ids=["missing", "malformed", "incompatible"])
def test_failure_leaves_existing_env_intact(lb, basic, tmp_path, environ, bad):
    env_dir = tmp_path / "env"
    lb.env_json(basic_req(tmp_path, basic), "-o", env_dir, "--no-index", "-f", basic.files)
    before = snapshot(env_dir)
    r = lb.run("env", write(tmp_path / "bad.txt", bad), "-o", env_dir, "--no-index", "-f", basic.files)
    r.fails(1)
    assert snapshot(env_dir) == before, "a failed run modified the existing env"
    check_basic_env(env_dir, environ)
