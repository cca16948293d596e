"""Config files: the user's ($XDG_CONFIG_HOME/lavabuild/config.toml), the project's
(lavabuild.toml beside the first requirements file), their order against the command line and
the variables, errors that name file, line and key, and --no-config / --config."""
from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

from lbtest import normalize, write

ALPHA_CLOSURE = {"alpha": "1.0", "beta": "1.0", "delta": "0.5", "gamma": "2.0", "zeta": "3.1"}


def user_config(lb, text: str) -> Path:
    return write(Path(lb.environ["XDG_CONFIG_HOME"]) / "lavabuild" / "config.toml", text)


def lock(lb, req: Path, *args, env=None):
    out = req.parent / "pylock.toml"
    r = lb.run("lock", req, "-o", out, *args, env=env)
    return r, out


def locked(out: Path) -> dict:
    return {normalize(p["name"]): p for p in tomllib.loads(out.read_text())["packages"]}


def wheel_urls(out: Path) -> list:
    return [w.get("url") or w.get("path") for p in locked(out).values() for w in p["wheels"]]


def test_user_config_index_url_is_used(lb, basic, tmp_path):
    user_config(lb, f'index-url = "{basic.index_url}"\n')
    req = write(tmp_path / "req.txt", "alpha==1.0\nbeta==1.0\n")
    r, out = lock(lb, req)
    r.ok()
    assert {n: p["version"] for n, p in locked(out).items()} == ALPHA_CLOSURE
    assert all(u.startswith(basic.files_url) for u in wheel_urls(out)), wheel_urls(out)


def test_project_config_wins_over_user_config(lb, basic, tmp_path, closed_port_url):
    user_config(lb, f'index-url = "{closed_port_url}"\n')
    write(tmp_path / "proj" / "lavabuild.toml", f'index-url = "{basic.index_url}"\n')
    req = write(tmp_path / "proj" / "req.txt", "alpha==1.0\n")
    r, out = lock(lb, req)
    r.ok()
    assert all(u.startswith(basic.files_url) for u in wheel_urls(out))
    # Without the project's file the user's (unreachable) index is used: the order is real.
    (tmp_path / "proj" / "lavabuild.toml").unlink()
    out.unlink()
    r, _ = lock(lb, req)
    assert r.returncode != 0 and "127.0.0.1" in r.stderr, r.describe()


def test_command_line_and_variables_win_over_config_files(lb, basic, tmp_path, closed_port_url):
    user_config(lb, f'index-url = "{closed_port_url}"\n')
    write(tmp_path / "lavabuild.toml", f'index-url = "{closed_port_url}"\njobs = 2\n')
    req = write(tmp_path / "req.txt", "alpha==1.0\n")
    lock(lb, req, "-i", basic.index_url)[0].ok()
    lock(lb, req, env={"LAVABUILD_INDEX_URL": basic.index_url})[0].ok()
    # PIP_INDEX_URL ranks below a config file: the (unreachable) config index is used.
    r, _ = lock(lb, req, env={"PIP_INDEX_URL": basic.index_url})
    assert r.returncode != 0, "PIP_INDEX_URL won over a config file\n" + r.describe()


def test_config_wins_over_pip_variables(lb, basic, tmp_path, closed_port_url):
    user_config(lb, f'index-url = "{basic.index_url}"\n')
    req = write(tmp_path / "req.txt", "alpha==1.0\n")
    lock(lb, req, env={"PIP_INDEX_URL": closed_port_url})[0].ok()


def test_unknown_key_names_file_line_and_suggestion(lb, basic, tmp_path):
    cfg = write(tmp_path / "lavabuild.toml", f'# lavabuild\nindex-url = "{basic.index_url}"\nindex_url = "x"\n')
    req = write(tmp_path / "req.txt", "alpha==1.0\n")
    r = lock(lb, req)[0].fails(2)
    assert f"{cfg}:3" in r.stderr and "'index_url'" in r.stderr, r.describe()
    assert "did you mean 'index-url'" in r.stderr, r.describe()
    assert not (tmp_path / "pylock.toml").exists()
    write(cfg, '[remote]\ncache = "https://cache.example/"\ntrusted-key = ["a:b"]\n')
    r = lock(lb, req)[0].fails(2)
    assert f"{cfg}:3" in r.stderr and "'remote.trusted-key'" in r.stderr, r.describe()
    assert "did you mean 'trusted-keys'" in r.stderr, r.describe()


def test_wrong_type_and_bad_toml_are_errors(lb, tmp_path):
    req = write(tmp_path / "req.txt", "alpha==1.0\n")
    cfg = tmp_path / "lavabuild.toml"
    for text, line, words in [('jobs = "four"\n', 1, ["'jobs'", "a string"]),
                              ('\nextra-index-url = "http://x/simple"\n', 2, ["'extra-index-url'", "array"]),
                              ('link-mode = "symlink"\n', 1, ["'link-mode'", "symlink"]),
                              ('jobs = 0\n', 1, ["'jobs'", "from 1 to 1024"]),
                              ('pre = "yes"\n', 1, ["'pre'", "true or false"]),
                              ('index-url = \n', 1, ["invalid TOML"])]:
        write(cfg, text)
        r = lock(lb, req)[0].fails(2)
        assert f"{cfg}:{line}" in r.stderr, r.describe()
        for w in words:
            assert w in r.stderr, f"{w!r} missing\n" + r.describe()


def test_remote_table_is_used_and_checked(lb, basic, tmp_path):
    """[remote] sets the remote cache: its keys are read (a bad one is an error naming it); a
    server that is not there is never contacted by a run that needs nothing of it."""
    assert lb.run("cache", "keygen", "--name", "ci-1", "--secret-key", tmp_path / "key.sec",
                  "--public-key", tmp_path / "key.pub").returncode == 0
    pub = (tmp_path / "key.pub").read_text().strip()
    cfg = tmp_path / "lavabuild.toml"
    table = ('cache = "http://127.0.0.1:9/cache"\nsigning-key = "key.sec"\nread-only = true\n'
             'timeout = 5\nca = "ca.pem"\n[remote.headers]\nAuthorization = "Bearer x"\n')
    write(cfg, f'index-url = "{basic.index_url}"\n[remote]\ntrusted-keys = ["{pub}"]\n' + table)
    req = write(tmp_path / "req.txt", "alpha==1.0\n")
    r = lock(lb, req)[0].ok()
    assert "warning" not in r.stderr, r.describe()
    write(cfg, f'index-url = "{basic.index_url}"\n[remote]\ntrusted-keys = ["ci:AAAA"]\n' + table)
    r = lock(lb, req)[0]
    assert r.returncode != 0 and "ci:AAAA" in r.stderr, r.describe()


def test_relative_find_links_resolve_against_the_file(lb, basic, tmp_path):
    proj = tmp_path / "proj"
    shutil.copytree(basic.files, proj / "wheels")
    write(proj / "lavabuild.toml", 'no-index = true\nfind-links = ["wheels"]\n')
    req = write(proj / "req.txt", "alpha==1.0\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = lb.run("lock", req, "-o", proj / "pylock.toml", cwd=elsewhere).ok()
    paths = wheel_urls(proj / "pylock.toml")
    assert paths and all(p.startswith("wheels/") for p in paths), paths + [r.describe()]


def test_no_config_and_explicit_config(lb, basic, tmp_path):
    user_config(lb, "bogus = 1\n")
    write(tmp_path / "lavabuild.toml", "also-bogus = 1\n")
    req = write(tmp_path / "req.txt", "alpha==1.0\n")
    lock(lb, req)[0].fails(2)
    lock(lb, req, "--no-config", "-i", basic.index_url)[0].ok()
    lock(lb, req, "-i", basic.index_url, env={"LAVABUILD_NO_CONFIG": "1"})[0].ok()
    explicit = write(tmp_path / "other" / "ci.toml", f'index-url = "{basic.index_url}"\n')
    lock(lb, req, "--config", explicit)[0].ok()
    r = lock(lb, req, "--config", tmp_path / "missing.toml")[0].fails(2)
    assert "missing.toml" in r.stderr and "does not exist" in r.stderr, r.describe()


def test_config_change_reaches_the_env_stamp(lb, basic, tmp_path, closed_port_url):
    cfg = write(tmp_path / "lavabuild.toml", f'index-url = "{basic.index_url}"\n')
    req = write(tmp_path / "req.txt", "delta==0.5\n")
    lb.run("env", req, "-o", tmp_path / "env").ok()
    lb.run("env", req, "-o", tmp_path / "env").ok()
    # Another index in the config: not a no-op (it resolves again, against the dead index).
    write(cfg, f'index-url = "{closed_port_url}"\n')
    r = lb.run("env", req, "-o", tmp_path / "env")
    assert r.returncode != 0 and "127.0.0.1" in r.stderr, "a config change was a no-op\n" + r.describe()


def test_env_help_lists_config_files_and_keys(lb):
    out = lb.run("env", "--help").ok().stdout
    assert str(Path(lb.environ["XDG_CONFIG_HOME"]) / "lavabuild" / "config.toml") in out, out
    assert "lavabuild.toml" in out and "--no-config" in out and "--config" in out, out
    for key in ("index-url", "extra-index-url", "find-links", "no-index", "cache-dir", "link-mode",
                "python", "jobs", "timeout", "pre", "remote.cache", "remote.trusted-keys"):
        assert key in out, f"{key} not in env --help\n{out}"
