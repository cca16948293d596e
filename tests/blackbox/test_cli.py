"""The command line people expect: per-command --help, --version, "did you mean", no command,
`lock -o -`, -j / LAVABUILD_JOBS checks, pip's PIP_* variables, and one version definition."""
from __future__ import annotations

import re
import threading
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from lbtest import normalize, site_packages, write

ROOT = Path(__file__).resolve().parents[2]
LIMIT_VARIABLES = ["LAVABUILD_MAX_MEMBER_SIZE", "LAVABUILD_MAX_WHEEL_SIZE",
                   "LAVABUILD_MAX_COMPRESSION_RATIO", "LAVABUILD_MAX_PAGE_SIZE",
                   "LAVABUILD_MAX_PAGE_FILES", "LAVABUILD_MAX_DOWNLOAD_SIZE",
                   "LAVABUILD_HTTP_TIMEOUT", "LAVABUILD_HTTP_LOW_SPEED", "LAVABUILD_HTTP_DEADLINE"]


def project_version() -> str:
    """The one definition: CMakeLists.txt's project(lavabuild VERSION X.Y.Z ...)."""
    m = re.search(r"project\(lavabuild VERSION ([0-9.]+)", (ROOT / "CMakeLists.txt").read_text())
    assert m, "no project(lavabuild VERSION ...) in CMakeLists.txt"
    return m.group(1)


def options_in(help_text: str) -> set:
    return set(re.findall(r"--[a-z][a-z-]+", help_text.split("environment:")[0]))


# --- help, version, usage -----------------------------------------------------------------

@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_command_help_lists_its_options_and_variables(lb, flag):
    r = lb.run("env", flag).ok()
    assert r.stdout.startswith("usage: lavabuild env"), r.describe()
    opts = options_in(r.stdout)
    assert {"--output", "--index-url", "--link-mode", "--jobs", "--seed", "--locked"} <= opts
    assert not {"--format", "--repair"} & opts, "env --help lists options env does not take"
    env_part = r.stdout.split("environment:")[1]
    for v in ["LAVABUILD_CACHE_DIR", "LAVABUILD_PYTHON", "LAVABUILD_INDEX_URL", "LAVABUILD_JOBS",
              "LAVABUILD_LINK_MODE", "LAVABUILD_OFFLINE", "LAVABUILD_NO_INDEX", "LAVABUILD_OUTPUT",
              "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", *LIMIT_VARIABLES]:
        assert v in env_part, f"env {flag} does not name {v}:\n{r.stdout}"
    assert r.stderr == ""


def test_each_command_help_is_its_own(lb):
    plan = lb.run("plan", "--help").ok().stdout
    assert plan.startswith("usage: lavabuild plan") and "--format" in options_in(plan)
    assert "LAVABUILD_MAX_PAGE_SIZE" in plan
    lock = lb.run("lock", "--help").ok().stdout
    assert lock.startswith("usage: lavabuild lock") and "-o -" in lock
    assert "--link-mode" not in options_in(lock) and "LAVABUILD_OUTPUT" not in lock
    assert "LAVABUILD_HTTP_DEADLINE" in lock
    verify = lb.run("verify", "--help").ok().stdout  # no ENV needed for help
    assert verify.startswith("usage: lavabuild verify ENV")
    assert options_in(verify) == {"--help", "--json"}, verify
    assert "LAVABUILD_" not in verify
    cache = lb.run("cache", "-h").ok().stdout
    assert cache.startswith("usage: lavabuild cache stats|gc|verify")
    assert {"--max-size", "--dry-run", "--json"} <= options_in(cache)
    assert "--repair" in options_in(cache) and "--link-mode" not in options_in(cache)
    # push/pull of a lock build its env: the remote and index options are theirs too.
    assert {"--remote-cache", "--signing-key", "--trusted-key", "--index-url"} <= options_in(cache)
    assert "LAVABUILD_CACHE_DIR" in cache and "LAVABUILD_MAX_" not in cache


def test_overview_help(lb):
    r = lb.run("--help").ok()
    assert r.stdout.startswith("usage: lavabuild COMMAND")
    for cmd in ["env", "plan", "lock", "verify", "cache"]:
        assert f"\n  {cmd} " in r.stdout
    assert "--version" in r.stdout


def test_version_is_cmake_project_version(lb):
    r = lb.run("--version").ok()
    assert r.stdout == f"lavabuild {project_version()}\n", r.describe()
    assert r.stderr == ""


def test_no_command_is_usage_on_stderr_exit_2(lb):
    r = lb.run().fails(2)
    assert r.stdout == ""
    assert r.stderr.startswith("usage: lavabuild COMMAND"), r.describe()
    assert "lock REQ_FILE" in r.stderr


def test_mistyped_command_gets_a_suggestion(lb):
    r = lb.run("evn", "req.txt").fails(2)
    assert "unknown command 'evn'; did you mean 'env'?" in r.stderr, r.describe()
    assert "did you mean 'lock'" in lb.run("lokc").fails(2).stderr
    far = lb.run("frobnicate").fails(2)
    assert "unknown command 'frobnicate'" in far.stderr and "did you mean" not in far.stderr


@pytest.mark.parametrize("argv, option", [
    (["verify", "ENV", "--repair"], "--repair"),
    (["env", "req.txt", "--format", "dot"], "--format"),
    (["env", "req.txt", "--max-size", "1"], "--max-size"),
    (["plan", "req.txt", "--json"], "--json"),
    (["cache", "stats", "--locked", "pylock.toml"], "--locked"),
])
def test_an_option_another_command_takes_is_a_usage_error(lb, tmp_path, argv, option):
    """An option the command does not take would do nothing: refused, as a misspelt one is."""
    argv = [str(tmp_path / a) if a in ("ENV", "req.txt") else a for a in argv]
    write(tmp_path / "req.txt", "alpha==1.0\n")
    r = lb.run(*argv).fails(2)
    assert f"{option} does not apply to `lavabuild {argv[0]}" in r.stderr, r.describe()
    assert not (tmp_path / ".venv").exists()


def test_words_a_cache_action_does_not_take_are_a_usage_error(lb):
    r = lb.run("cache", "stats", "extra").fails(2)
    assert "lavabuild cache stats takes no argument, not 'extra'" in r.stderr, r.describe()


# --- -j / LAVABUILD_JOBS ------------------------------------------------------------------

@pytest.mark.parametrize("value", ["0", "-2", "many", "1025", "99999999999"])
def test_bad_jobs_option_is_a_usage_error(lb, tmp_path, value):
    req = write(tmp_path / "req.txt", "alpha==1.0\n")
    r = lb.run("env", req, f"--jobs={value}", "-o", tmp_path / "env").fails(2)
    assert "-j/--jobs" in r.stderr and f"'{value}'" in r.stderr, r.describe()
    assert not (tmp_path / "env").exists()


@pytest.mark.parametrize("value", ["0", "-1", "lots", "100000"])
def test_bad_jobs_variable_is_a_usage_error(lb, tmp_path, value):
    req = write(tmp_path / "req.txt", "alpha==1.0\n")
    r = lb.run("lock", req, "-o", tmp_path / "pylock.toml", env={"LAVABUILD_JOBS": value}).fails(2)
    assert "LAVABUILD_JOBS" in r.stderr and f"'{value}'" in r.stderr, r.describe()


def test_good_jobs_values_work(lb, basic, tmp_path):
    req = write(tmp_path / "req.txt", "alpha==1.0\n")
    lb.run("env", req, "-j", "1", "-o", tmp_path / "e1", "-i", basic.index_url).ok()
    lb.run("env", req, "-o", tmp_path / "e2", "-i", basic.index_url,
           env={"LAVABUILD_JOBS": "1024"}).ok()


# --- lock -o - ----------------------------------------------------------------------------

def test_lock_to_stdout(lb, basic, tmp_path):
    req = write(tmp_path / "req.txt", "alpha==1.0\nbeta==1.0\n")
    to_file = tmp_path / "pylock.toml"
    lb.run("lock", req, "-o", to_file, "-i", basic.index_url).ok()
    r = lb.run("lock", req, "-o", "-", "-i", basic.index_url, cwd=tmp_path).ok()
    assert r.stdout == to_file.read_text(), "lock -o - differs from the lock file"
    data = tomllib.loads(r.stdout)
    assert {normalize(p["name"]) for p in data["packages"]} >= {"alpha", "beta"}
    assert "locked" in r.stderr and "stdout" in r.stderr
    assert not (tmp_path / "-").exists(), "lock -o - wrote a file named '-'"
    # The lock from stdout installs.
    lock_file = write(tmp_path / "from-stdout" / "pylock.toml", r.stdout)
    lb.run("env", lock_file, "-o", tmp_path / "env").ok()
    assert (site_packages(tmp_path / "env") / "alpha").is_dir()


def test_lock_to_stdout_with_json_is_refused(lb, tmp_path):
    req = write(tmp_path / "req.txt", "alpha==1.0\n")
    r = lb.run("lock", req, "-o", "-", "--json").fails(2)
    assert "--json" in r.stderr and r.stdout == ""


# --- PIP_* variables ----------------------------------------------------------------------

def test_pip_index_url_is_used(lb, basic, tmp_path):
    req = write(tmp_path / "req.txt", "alpha==1.0\n")
    lb.run("env", req, "-o", tmp_path / "env", env={"PIP_INDEX_URL": basic.index_url}).ok()
    assert (site_packages(tmp_path / "env") / "alpha").is_dir()


def test_lavabuild_options_win_over_pip_index_url(lb, basic, tmp_path, closed_port_url):
    req = write(tmp_path / "req.txt", "alpha==1.0\n")
    out = tmp_path / "pylock.toml"
    pip = {"PIP_INDEX_URL": basic.index_url}
    # The command line and LAVABUILD_INDEX_URL win: the closed port is tried, and fails.
    r = lb.run("lock", req, "-o", out, "-i", closed_port_url, env=pip).fails(1)
    assert closed_port_url.split("/simple")[0] in r.stderr, r.describe()
    r = lb.run("lock", req, "-o", out, env={**pip, "LAVABUILD_INDEX_URL": closed_port_url}).fails(1)
    assert closed_port_url.split("/simple")[0] in r.stderr, r.describe()
    # And PIP_INDEX_URL is not used when they point at the right index.
    lb.run("lock", req, "-o", out, env={"PIP_INDEX_URL": closed_port_url,
                                       "LAVABUILD_INDEX_URL": basic.index_url}).ok()


def test_requirement_file_index_wins_over_pip_index_url(lb, basic, tmp_path, closed_port_url):
    req = write(tmp_path / "req.txt", f"-i {basic.index_url}\nalpha==1.0\n")
    lb.run("lock", req, "-o", tmp_path / "pylock.toml",
           env={"PIP_INDEX_URL": closed_port_url}).ok()


def test_pip_extra_index_url_is_space_separated(lb, basic, versions, tmp_path):
    req = write(tmp_path / "req.txt", "alpha==1.0\nvpost==1.0\n")
    out = tmp_path / "pylock.toml"
    extras = f"  {versions.index_url}   {basic.index_url} "
    lb.run("lock", req, "-o", out, "-i", basic.index_url,
           env={"PIP_EXTRA_INDEX_URL": extras}).ok()
    names = {normalize(p["name"]) for p in tomllib.loads(out.read_text())["packages"]}
    assert {"alpha", "vpost"} <= names
    # --extra-index-url on the command line replaces the variable.
    r = lb.run("lock", req, "-o", tmp_path / "other.toml", "-i", basic.index_url,
               "--extra-index-url", basic.index_url, env={"PIP_EXTRA_INDEX_URL": extras}).fails(1)
    assert "vpost" in r.stderr, r.describe()


def test_pip_find_links_is_used(lb, basic, tmp_path):
    req = write(tmp_path / "req.txt", "alpha==1.0\n")
    r = lb.run("env", req, "--no-index", "-o", tmp_path / "none").fails(1)
    assert "alpha" in r.stderr
    lb.run("env", req, "--no-index", "-o", tmp_path / "env",
           env={"PIP_FIND_LINKS": str(basic.files)}).ok()
    assert (site_packages(tmp_path / "env") / "alpha").is_dir()


# --- the HTTP User-Agent uses the same version ---------------------------------------------

def test_user_agent_carries_the_project_version(lb, tmp_path):
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            seen.append(self.headers.get("User-Agent"))
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        req = write(tmp_path / "req.txt", "alpha==1.0\n")
        url = f"http://127.0.0.1:{srv.server_address[1]}/simple"
        lb.run("lock", req, "-o", tmp_path / "pylock.toml", "-i", url).fails(1)
    finally:
        srv.shutdown()
        srv.server_close()
    assert seen, "lavabuild made no request"
    assert set(seen) == {f"lavabuild/{project_version()}"}, seen
