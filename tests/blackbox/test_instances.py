"""`lavabuild instance`: services run from generations of an environment, with real processes.

The `instances` corpus has webserve 1.0 and 2.0 (an HTTP server on 127.0.0.1:$PORT answering
`GET /` with "webserve VERSION\\n" and `GET /env/NAME` with a variable of its environment;
requires webtools), webtools 1.0, and crashy 1.0 (prints "crashy starting", exits 1).

PID 1 is not systemd here, so `start` runs lavabuild's own supervisor. Every test works in its
own root (`--root`); its teardown stops the instances and kills whatever process still refers
to that root, so no process outlives a test.
"""
from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import tomllib
from pathlib import Path

import pytest
from lbtest import (kill_instance_leftovers, INSTANCE_STATS, REPO, alive, http_get, missing_prerequisite, parse_environment_file,
                    processes_under, recipe_text, run, serving, until, wait_for_http, write)

import serve_index  # noqa: E402  (tools/, put on sys.path by conftest)

SYSTEMD_ANALYZE = "/usr/bin/systemd-analyze"
EXAMPLE_RECIPE = REPO / "recipes" / "instances" / "webserve.toml"
WEB = "webserve"
LEAK = "LB_TEST_LEAK"        # in the environment of every lavabuild run; must reach no process or hook
SHELL_VARS = {"PWD", "OLDPWD", "SHLVL", "_"}  # what /bin/sh itself adds to what `env` shows


# ---------------------------------------------------------------- helpers
def parse_unit(text: str) -> dict:
    """section -> {key: [values]} of a systemd unit file."""
    out: dict = {}
    section = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = out.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        assert section is not None, f"a key outside a section: {line!r}"
        section.setdefault(key.strip(), []).append(value.strip())
    return out


def read_pidfile(path: Path) -> int:
    text = path.read_text()
    assert re.fullmatch(r"[0-9]+\n?", text), \
        f"{path}: a pid file holds the pid alone (as `kill $(cat {path.name})` and systemd's PIDFile= read it), not {text!r}"
    return int(text)


def group_members(pgid: int) -> list:
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit() and alive(int(p.name)):
            try:
                if os.getpgid(int(p.name)) == pgid:
                    out.append(int(p.name))
            except OSError:
                pass
    return out


def port_closed(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except OSError:
        return True


class Instances:
    """`lavabuild instance …` on one root, for one test; builds use the `instances` corpus."""

    def __init__(self, lb, corpus, root: Path):
        self.lb, self.corpus, self.root = lb, corpus, root

    def run(self, *args, timeout=180):
        # pipe_grace: a supervisor that kept our stdout/stderr fails the run instead of hanging it
        return self.lb.run("instance", *args, "--root", self.root, timeout=timeout, pipe_grace=30,
                           env={LEAK: "leaked"})

    def build_opts(self) -> list:
        return ["--python", self.lb.python, "--cache-dir", self.lb.cache_dir, "-i", self.corpus.index_url]

    def create(self, name, req, recipe=None, env=(), check=True):
        args = ["create", name, "-r", req, *self.build_opts()]
        if recipe:
            args += ["--recipe", recipe]
        for kv in env:
            args += ["--env", kv]
        r = self.run(*args)
        if check:
            r.ok()
            assert f"created instance {name}" in r.output, r.describe()
        return r

    def upgrade(self, name, *args):
        return self.run("upgrade", name, *args, *self.build_opts())

    def dir(self, name) -> Path:
        return self.root / "instances" / name

    def live(self, name) -> int:
        """The generation `current` points to (read from the file system)."""
        d = self.dir(name)
        target = (d / "current").resolve()
        assert (d / "current").is_symlink() and target.parent == (d / "generations").resolve(), target
        return int(target.name)

    def generations(self, name) -> dict:
        data = self.run("generations", name, "--json").ok().json()
        assert data["name"] == name and [g["generation"] for g in data["generations"]] == \
            sorted(g["generation"] for g in data["generations"]), data
        return data

    def generation_dirs(self, name) -> list:
        return sorted(int(p.name) for p in (self.dir(name) / "generations").iterdir())

    def listing(self) -> dict:
        data = self.run("list", "--json").ok().json()
        return {i["name"]: i for i in data["instances"]}

    def status(self, name) -> dict:
        r = self.run("status", name, "--json").ok()
        data = r.json()
        assert data["name"] == name, r.describe()
        data["by_name"] = {p["name"]: p for p in data["processes"]}
        return data

    def proc(self, name, process) -> dict:
        return self.status(name)["by_name"][process]

    def start(self, name, *process):
        return self.run("start", name, *process).ok()

    def cleanup(self):
        base = self.root / "instances"
        if base.is_dir():
            for d in sorted(base.iterdir()):
                try:
                    self.run("stop", d.name, timeout=60)
                except Exception:  # noqa: BLE001  (teardown: kill below whatever is left)
                    pass
        kill_instance_leftovers(self.root, self.lb.binary)


@pytest.fixture
def inst(lb, instances, tmp_path):
    i = Instances(lb, instances, tmp_path / "root")
    yield i
    i.cleanup()


@pytest.fixture
def reqs(tmp_path):
    """Requirement files: webserve 1.0, webserve 2.0."""
    return (write(tmp_path / "req1.txt", "webserve==1.0\n"), write(tmp_path / "req2.txt", "webserve==2.0\n"))


def web_recipe(tmp_path, port, hooks=None, processes=None, name="recipe.toml", **environment) -> Path:
    return write(tmp_path / name, recipe_text(processes or {"web": WEB},
                                              {"PORT": str(port), **environment}, hooks))


def packages_of(gen: dict) -> dict:
    return {p["name"]: p["version"] for p in gen["packages"]}


# ---------------------------------------------------------------- create, list, generations
def test_create_layout_generations_and_list(inst, reqs, lb, tmp_path):
    port = serve_index.free_port()
    rec = web_recipe(tmp_path, port, GREETING="hello")
    r = inst.create("shop", reqs[0], rec)
    d = inst.dir("shop")
    for rel in ("generations/1/env", "generations/1/pylock.toml", "generations/1/requirements.txt",
                "generations/1/recipe.toml", "generations/1/generation.json", "etc/instance.toml",
                "etc/environment", "etc/recipe.toml", "var", "run", "log", "etc/systemd"):
        assert (d / rel).exists(), f"{rel} missing after create\n" + r.describe()
    for rel in ("var", "run", "log", "generations/1/env"):
        assert (d / rel).is_dir(), rel
    assert (d / "current").is_symlink(), "current is not a symlink"
    assert (d / "current").resolve() == (d / "generations" / "1").resolve(), os.readlink(d / "current")
    webserve = d / "current" / "env" / "bin" / "webserve"
    assert os.access(webserve, os.X_OK), f"{webserve} is not an executable"
    # the env works (webtools, the dependency, came with it)
    py = run([d / "current" / "env" / "bin" / "python", "-c",
              "import webserve.app, webtools; print(webserve.app.VERSION, webtools.__version__)"]).ok()
    assert py.stdout.split() == ["1.0", "1.0"], py.describe()
    assert sorted(p.name for p in (d / "etc" / "systemd").iterdir()) == ["lavabuild-shop-web.service"]

    # what the generation was made from
    assert "webserve==1.0" in (d / "generations/1/requirements.txt").read_text()
    given = tomllib.loads(rec.read_text())
    for copy in ("etc/recipe.toml", "generations/1/recipe.toml"):
        assert tomllib.loads((d / copy).read_text()) == given, copy
    lock = tomllib.loads((d / "generations/1/pylock.toml").read_text())
    assert {p["name"]: p["version"] for p in lock["packages"]} == {"webserve": "1.0", "webtools": "1.0"}
    json.loads((d / "generations/1/generation.json").read_text())
    tomllib.loads((d / "etc/instance.toml").read_text())

    env = parse_environment_file((d / "etc/environment").read_text())
    want = {"INSTANCE_NAME": "shop", "INSTANCE_DIR": str(d), "INSTANCE_VAR": str(d / "var"),
            "INSTANCE_RUN": str(d / "run"), "INSTANCE_LOG": str(d / "log"),
            "VIRTUAL_ENV": str(d / "generations" / "1" / "env"), "PORT": str(port), "GREETING": "hello"}
    assert {k: env.get(k) for k in want} == want, env
    assert env["PATH"].startswith(str(d / "generations" / "1" / "env" / "bin") + ":"), env["PATH"]
    assert LEAK not in env, env

    # generations --json, and the digest is the env's (the same as a plain env of the same lock)
    gens = inst.generations("shop")
    assert gens["live"] == 1 and len(gens["generations"]) == 1, gens
    g = gens["generations"][0]
    assert packages_of(g) == {"webserve": "1.0", "webtools": "1.0"}, g
    plain = lb.env_json(d / "generations/1/pylock.toml", "-o", tmp_path / "plain-env", "-i", inst.corpus.index_url)
    assert g["digest"] == plain["digest"], (g, plain["digest"])
    created = datetime.datetime.fromisoformat(g["created"].replace("Z", "+00:00"))
    assert created.utcoffset() == datetime.timedelta(0), g["created"]
    assert abs((datetime.datetime.now(datetime.timezone.utc) - created).total_seconds()) < 600, g["created"]

    # list
    listed = inst.listing()
    assert set(listed) == {"shop"}, listed
    e = listed["shop"]
    assert e["generation"] == 1 and e["digest"] == g["digest"], e
    assert isinstance(e["disk_bytes"], int) and e["disk_bytes"] > 0, e
    assert isinstance(e["shared_bytes"], int) and 0 <= e["shared_bytes"] <= e["disk_bytes"], e
    assert e["processes"] == {"web": "stopped"}, e
    text = inst.run("list").ok()
    assert len([line for line in text.stdout.splitlines() if "shop" in line]) == 1, text.describe()
    # $LAVABUILD_ROOT stands for --root
    by_env = lb.run("instance", "list", "--json", env={"LAVABUILD_ROOT": str(inst.root)}, pipe_grace=30).ok()
    assert [i["name"] for i in by_env.json()["instances"]] == ["shop"], by_env.describe()


def test_create_refuses_bad_and_existing_names(inst, reqs):
    for name in ("Shop", "-shop", "shop_1", "shop.1", "a" * 30, "../escape", "sh op"):
        r = inst.run("create", name, "-r", reqs[0], *inst.build_opts())
        r.fails(2)
        assert name in r.output, f"the message does not name {name!r}\n" + r.describe()
    assert not (inst.root / "escape").exists() and not (inst.root.parent / "escape").exists()
    assert not (inst.root / "instances").exists() or list((inst.root / "instances").iterdir()) == []

    inst.create("a" * 29, reqs[0])  # the longest name allowed (lb-NAME fits useradd's 32)
    inst.create("shop", reqs[0])
    env_ino = (inst.dir("shop") / "generations/1/env").stat().st_ino
    again = inst.run("create", "shop", "-r", reqs[1], *inst.build_opts())
    again.fails(1)
    assert "shop" in again.output, again.describe()
    assert inst.generation_dirs("shop") == [1] and inst.live("shop") == 1
    assert (inst.dir("shop") / "generations/1/env").stat().st_ino == env_ino, "the existing instance was touched"
    assert packages_of(inst.generations("shop")["generations"][0])["webserve"] == "1.0"


@pytest.mark.parametrize("case,text,key", [
    ("unknown-table", '[processes]\nweb = "webserve"\n[bogus]\nx = "1"\n', "bogus"),
    ("unknown-top-key", 'procesess = "web"\n', "procesess"),
    ("unknown-hook", '[hooks]\nsetpu = "true"\n', "setpu"),
    ("non-string-env", '[environment]\nPORT = 8080\n', "PORT"),
    ("non-string-process", '[processes]\nweb = ["webserve"]\n', "web"),
    ("bad-process-name", '[processes]\nWeb = "webserve"\n', "Web"),
    ("bad-process-name2", '[processes]\n"-web" = "webserve"\n', "-web"),
])
def test_create_refuses_bad_recipe(inst, reqs, tmp_path, case, text, key):
    rec = write(tmp_path / f"recipe-{case}.toml", text)
    r = inst.run("create", "shop", "-r", reqs[0], "--recipe", rec, *inst.build_opts())
    r.fails(1)
    assert rec.name in r.output, "the message does not name the recipe\n" + r.describe()
    rest = r.output.replace(str(rec), "").replace(rec.name, "")
    assert re.search(rf"(?<![\w-]){re.escape(key)}(?![\w-])", rest), \
        f"the message does not name the key {key!r}\n" + r.describe()
    assert not inst.dir("shop").exists(), "a refused recipe left an instance directory"


# ---------------------------------------------------------------- environment of processes
def test_env_overrides_recipe_and_processes_get_exactly_their_environment(inst, reqs, tmp_path):
    port = serve_index.free_port()
    quoted = 'say "hi" \\ back, it\'s  two spaces'
    rec = web_recipe(tmp_path, 9, GREETING="from the recipe")  # PORT 9: only --env makes it work
    inst.create("envy", reqs[0], rec, env=[f"PORT={port}", f"QUOTED={quoted}"])
    d = inst.dir("envy")
    env = parse_environment_file((d / "etc/environment").read_text())
    assert env["PORT"] == str(port) and env["QUOTED"] == quoted and env["GREETING"] == "from the recipe", env
    inst.start("envy")
    serving(port, "1.0")
    url = f"http://127.0.0.1:{port}/env/"
    expect = {"PORT": str(port), "INSTANCE_NAME": "envy", "INSTANCE_DIR": str(d),
              "INSTANCE_VAR": str(d / "var"), "INSTANCE_RUN": str(d / "run"), "INSTANCE_LOG": str(d / "log"),
              "VIRTUAL_ENV": str(d / "generations" / "1" / "env"), "GREETING": "from the recipe", "QUOTED": quoted}
    got = {k: http_get(url + k) for k in expect}
    assert got == {k: (200, v) for k, v in expect.items()}, got
    status, path = http_get(url + "PATH")
    assert status == 200 and path.startswith(str(d / "generations" / "1" / "env" / "bin") + ":"), path
    # nothing of the shell that ran lavabuild
    for leaked in (LEAK, "LAVABUILD_CACHE_DIR", "no_proxy", "PYTHONDONTWRITEBYTECODE"):
        assert http_get(url + leaked)[0] == 404, f"{leaked} reached the process"
    pid = inst.proc("envy", "web")["pid"]
    assert os.readlink(f"/proc/{pid}/cwd") == str(d / "var"), "the working directory is not INSTANCE_VAR"


def test_process_commands_are_shell_command_lines(inst, reqs, tmp_path):
    """A process is `/bin/sh -c COMMAND` (plain `webserve` everywhere else): an explicit
    `exec`, variable assignments with `${VAR}`, and compound commands work too."""
    commands = {"exec": "exec webserve",
                "assign": "PORT=${PORT_ASSIGN} exec webserve",
                "compound": 'cd "$INSTANCE_VAR" && PORT=${PORT_COMPOUND} webserve'}
    ports = {p: serve_index.free_port() for p in commands}
    rec = write(tmp_path / "recipe.toml", recipe_text(commands, {
        "PORT": str(ports["exec"]), "PORT_ASSIGN": str(ports["assign"]), "PORT_COMPOUND": str(ports["compound"])}))
    inst.create("shell", reqs[0], rec)
    started = inst.run("start", "shell")  # the answers below say more than its exit status
    d = inst.dir("shell")
    broken = []
    for p, port in ports.items():
        try:
            serving(port, "1.0", timeout=10)
        except AssertionError as e:
            log = d / "log" / f"{p}.log"
            broken.append(f"process {p} = {commands[p]!r} does not serve: {e}\n"
                          f"log/{p}.log: {log.read_text()[-1000:] if log.exists() else '(none)'}")
    assert not broken, "\n".join(broken) + "\n" + started.describe()


# ---------------------------------------------------------------- supervisor
def test_supervisor_starts_restarts_and_stops(inst, reqs, tmp_path, lb):
    port = serve_index.free_port()
    # worker: a process with a child in its group (the background sleep)
    rec = web_recipe(tmp_path, port, processes={"web": WEB, "worker": "sleep 3600 & sleep 3601"})
    inst.create("sup", reqs[0], rec)
    d = inst.dir("sup")

    # start returns: the supervisor detached from our stdout/stderr (subprocess.run's timeout
    # covers waiting for the pipes to close)
    argv = lb.argv("instance", "start", "sup", "--root", inst.root)
    try:
        started = subprocess.run(argv, env=lb.environ, stdin=subprocess.DEVNULL, capture_output=True,
                                 text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("`instance start` did not return within 60 s, or a process it started kept its stdout/stderr")
    assert started.returncode == 0, started
    sup_pid = read_pidfile(d / "run" / "supervisor.pid")
    pids = {p: read_pidfile(d / "run" / f"{p}.pid") for p in ("web", "worker")}
    assert alive(sup_pid) and all(alive(p) for p in pids.values()), (sup_pid, pids)

    st = inst.status("sup")
    assert st["supervisor"]["running"] is True and st["supervisor"]["pid"] == sup_pid, st
    for p in ("web", "worker"):
        e = st["by_name"][p]
        assert e["state"] == "running" and e["pid"] == pids[p] and e["restarts"] == 0, e
        assert isinstance(e["uptime_s"], (int, float)) and e["uptime_s"] >= 0, e
        assert os.getpgid(pids[p]) == pids[p], f"{p} is not in its own process group"
    assert inst.listing()["sup"]["processes"] == {"web": "running", "worker": "running"}
    serving(port, "1.0")
    web_log = d / "log" / "web.log"
    until("log/web.log says listening", lambda: web_log.exists() and f"listening on {port}" in web_log.read_text(), 5)
    plain = inst.run("status", "sup").ok()
    lines = [line for line in plain.stdout.splitlines() if re.search(r"\bweb\b", line)]
    assert len(lines) == 1 and "running" in lines[0] and str(pids["web"]) in lines[0], plain.describe()
    one = inst.run("status", "sup", "web").ok()
    assert "web" in one.stdout and "worker" not in one.stdout, one.describe()

    # kill -9: restarted with a new pid, counted, serving again
    old = pids["web"]
    os.kill(old, signal.SIGKILL)
    e = until("web restarted after kill -9",
              lambda: (lambda p: p if p["state"] == "running" and p["pid"] not in (None, old) else None)(
                  inst.proc("sup", "web")), 8, 0.2)
    assert e["restarts"] == 1, e
    assert not alive(old)
    serving(port, "1.0", timeout=10)
    pids["web"] = e["pid"]

    # restart one process
    inst.run("restart", "sup", "web").ok()
    e = until("web has a new pid after restart",
              lambda: (lambda p: p if p["state"] == "running" and p["pid"] != pids["web"] else None)(
                  inst.proc("sup", "web")), 10, 0.2)
    serving(port, "1.0", timeout=10)
    pids["web"] = e["pid"]

    # stop one process: its whole group goes, the other process is untouched
    worker_group = group_members(pids["worker"])
    assert len(worker_group) >= 2, f"the worker's group should hold both sleeps: {worker_group}"
    inst.run("stop", "sup", "worker").ok()
    until("the worker's group is gone", lambda: not any(alive(p) for p in worker_group), 12)
    st = inst.status("sup")
    assert st["by_name"]["worker"]["state"] == "stopped" and st["by_name"]["worker"]["pid"] is None, st
    assert st["by_name"]["web"]["state"] == "running" and st["by_name"]["web"]["pid"] == pids["web"], st
    inst.start("sup", "worker")
    e = until("worker runs again", lambda: (lambda p: p if p["state"] == "running" else None)(
        inst.proc("sup", "worker")), 10, 0.2)
    assert e["pid"] not in worker_group
    worker_group = group_members(e["pid"])

    # stop everything: processes stopped, port closed, nothing of the groups left
    everything = set(processes_under(inst.root)) - {sup_pid}
    assert {pids["web"], *worker_group} <= everything, (pids, worker_group, everything)
    inst.run("stop", "sup").ok()
    until(f"port {port} closed", lambda: port_closed(port), 12)
    until("every process of the instance gone",
          lambda: not (set(processes_under(inst.root)) - {sup_pid}), 12)
    assert not any(alive(p) for p in everything | {old}), [p for p in everything if alive(p)]
    st = inst.status("sup")
    for p in ("web", "worker"):
        assert st["by_name"][p]["state"] == "stopped" and st["by_name"][p]["pid"] is None, st


def test_start_one_process_and_orphans_of_a_killed_supervisor(inst, reqs, tmp_path):
    """`start NAME PROCESS` with no supervisor starts that process alone; the supervisor is a
    program of its own (exec'd, not a fork of the caller); processes a SIGKILLed supervisor
    left are shown as orphaned, and `stop` stops them."""
    port = serve_index.free_port()
    rec = web_recipe(tmp_path, port, processes={"web": WEB, "worker": "sleep 3600"})
    inst.create("one", reqs[0], rec)
    d = inst.dir("one")
    inst.start("one", "web")
    st = inst.status("one")
    assert st["by_name"]["web"]["state"] == "running", st
    assert st["by_name"]["worker"]["state"] == "stopped" and st["by_name"]["worker"]["pid"] is None, st
    assert not (d / "log" / "worker.log").exists(), "the worker was started although only web was asked for"
    sup_pid = read_pidfile(d / "run" / "supervisor.pid")
    cmdline = Path(f"/proc/{sup_pid}/cmdline").read_bytes().split(b"\0")
    assert cmdline[1:4] == [b"__supervise", str(inst.root).encode(), b"one"], cmdline
    serving(port, "1.0")

    web_pid = st["by_name"]["web"]["pid"]
    os.kill(sup_pid, signal.SIGKILL)
    until("the supervisor is gone", lambda: not alive(sup_pid), 5)
    assert alive(web_pid)
    st = inst.status("one")
    assert st["supervisor"]["running"] is False, st
    assert st["by_name"]["web"]["state"] == "orphaned" and st["by_name"]["web"]["pid"] == web_pid, st
    assert st["by_name"]["worker"]["state"] == "stopped", st
    inst.run("stop", "one").ok()
    until("the orphan is stopped", lambda: not alive(web_pid), 12)
    until(f"port {port} closed", lambda: port_closed(port), 12)
    assert inst.status("one")["by_name"]["web"]["state"] == "stopped"


def test_process_that_always_fails_is_given_up(inst, tmp_path):
    req = write(tmp_path / "req.txt", "crashy==1.0\n")
    rec = write(tmp_path / "recipe.toml", recipe_text({"crash": "crashy"}))
    inst.create("crash", req, rec)
    d = inst.dir("crash")
    t0 = time.monotonic()
    started = inst.run("start", "crash")
    # started, then dead at once: `start` may say so (exit 1, with the end of the log)
    assert started.returncode == 0 or (started.returncode == 1 and "crashy starting" in started.output), \
        started.describe()
    seen = set()

    def failed():
        e = inst.proc("crash", "crash")
        seen.add(e["state"])
        return e if e["state"] == "failed" else None
    e = until("crash ends `failed`", failed, 40, 0.2)
    took = time.monotonic() - t0
    print(f"crashy given up after {took:.1f} s")
    assert e["pid"] is None and e["restarts"] >= 4, e
    assert "backoff" in seen, f"never saw the back-off state: {seen}"
    assert took >= 1 + 2 + 4 + 8 - 1, f"given up after {took:.1f} s: faster than back-offs of 1, 2, 4 and 8 s"
    log = (d / "log" / "crash.log").read_text()
    assert log.count("crashy starting") == 5, f"5 consecutive failures, then given up:\n{log}"
    time.sleep(2.5)  # given up: no more starts
    assert (d / "log" / "crash.log").read_text().count("crashy starting") == 5

    assert "failed" in inst.run("status", "crash").ok().stdout
    assert inst.listing()["crash"]["processes"] == {"crash": "failed"}
    logs = inst.run("logs", "crash", "crash").ok()
    assert "crashy starting" in logs.stdout, logs.describe()
    last = inst.run("logs", "crash", "crash", "-n", "2").ok()
    assert last.stdout.splitlines() == log.splitlines()[-2:], last.describe()
    every = inst.run("logs", "crash").ok()
    lines = every.stdout.splitlines()
    assert lines and all(line.startswith("crash | ") for line in lines), every.describe()
    assert "crash | crashy starting" in lines, every.describe()


# ---------------------------------------------------------------- upgrade, rollback
class Poller(threading.Thread):
    """GET / every 20 ms, recording (monotonic time, status or None, body or error)."""

    def __init__(self, port: int):
        super().__init__(daemon=True)
        self.url = f"http://127.0.0.1:{port}/"
        self.results: list = []
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set():
            t = time.monotonic()
            try:
                status, body = http_get(self.url, timeout=2)
                self.results.append((t, status, body))
            except OSError as e:
                self.results.append((t, None, repr(e)))
            time.sleep(0.02)

    def stop(self):
        self.halt.set()
        self.join(10)

    def longest_outage(self) -> tuple[float, int]:
        """(seconds from the first failed poll of the longest run of failures to the next
        answer, number of failed polls in it)."""
        best, run_start, count, best_count = 0.0, None, 0, 0
        for t, status, _ in self.results:
            if status is None:
                if run_start is None:
                    run_start, count = t, 0
                count += 1
            elif run_start is not None:
                if t - run_start > best:
                    best, best_count = t - run_start, count
                run_start = None
        return best, best_count


def test_upgrade_while_serving(inst, reqs, tmp_path):
    port = serve_index.free_port()
    inst.create("live", reqs[0], web_recipe(tmp_path, port))
    inst.start("live")
    serving(port, "1.0")
    old_pid = inst.proc("live", "web")["pid"]
    poller = Poller(port)
    poller.start()
    try:
        time.sleep(0.3)
        up = inst.upgrade("live", "-r", reqs[1])
        up.ok()
        serving(port, "2.0", timeout=15)
        time.sleep(0.3)
    finally:
        poller.stop()
    res = poller.results
    bodies = [(s, b) for _, s, b in res if s is not None]
    assert (200, "webserve 1.0\n") in bodies, "never saw 1.0 answer"
    assert (200, "webserve 2.0\n") in bodies, "never saw 2.0 answer"
    wrong = [r for r in bodies if r not in ((200, "webserve 1.0\n"), (200, "webserve 2.0\n"))]
    assert not wrong, f"answers other than webserve 1.0 / 2.0 during the upgrade: {wrong[:5]}"
    first_new = next(i for i, (_, s, b) in enumerate(res) if b == "webserve 2.0\n")
    assert all(b != "webserve 1.0\n" for _, _, b in res[first_new:]), "1.0 answered again after 2.0 did"
    outage, failed = poller.longest_outage()
    line = (f"instance upgrade while serving: longest unavailability {outage:.3f} s "
            f"(no answer to {failed} of {len(res)} polls, one every 20 ms)")
    print(line)
    INSTANCE_STATS.setdefault("lines", []).append(line)

    gens = inst.generations("live")
    assert gens["live"] == 2 and [g["generation"] for g in gens["generations"]] == [1, 2], gens
    assert [packages_of(g)["webserve"] for g in gens["generations"]] == ["1.0", "2.0"], gens
    assert inst.live("live") == 2
    e = inst.proc("live", "web")
    assert e["state"] == "running" and e["pid"] != old_pid and not alive(old_pid), e
    assert inst.listing()["live"]["generation"] == 2


def test_rollback_while_serving(inst, reqs, tmp_path):
    port = serve_index.free_port()
    inst.create("back", reqs[0], web_recipe(tmp_path, port))
    inst.start("back")
    serving(port, "1.0")
    inst.upgrade("back", "-r", reqs[1]).ok()
    serving(port, "2.0")

    inst.run("rollback", "back").ok()
    serving(port, "1.0")
    assert inst.live("back") == 1 and inst.generations("back")["live"] == 1
    assert inst.generation_dirs("back") == [1, 2], "rollback removed a generation"

    inst.run("rollback", "back", "--to", "2").ok()
    serving(port, "2.0")
    assert inst.live("back") == 2 and inst.generations("back")["live"] == 2

    bad = inst.run("rollback", "back", "--to", "7")
    bad.fails(1)
    assert "7" in bad.output, bad.describe()
    assert inst.live("back") == 2
    assert http_get(f"http://127.0.0.1:{port}/") == (200, "webserve 2.0\n")


def test_failing_build_or_pre_upgrade_keeps_the_live_generation(inst, reqs, tmp_path):
    port = serve_index.free_port()
    inst.create("keep", reqs[0], web_recipe(tmp_path, port, hooks={"pre-upgrade": "exit 3"}))
    inst.start("keep")
    serving(port, "1.0")
    pid = inst.proc("keep", "web")["pid"]

    def unchanged(r):
        assert r.returncode != 0, r.describe()
        assert inst.generation_dirs("keep") == [1], "the half-made generation was left\n" + r.describe()
        assert inst.live("keep") == 1 and inst.generations("keep")["live"] == 1
        e = inst.proc("keep", "web")
        assert e["state"] == "running" and e["pid"] == pid, f"the live process was touched: {e}"
        assert http_get(f"http://127.0.0.1:{port}/") == (200, "webserve 1.0\n")

    no_such = write(tmp_path / "req-bad.txt", "webserve==9.9\n")
    r = inst.upgrade("keep", "-r", no_such)
    assert "webserve" in r.output, r.describe()
    unchanged(r)

    r = inst.upgrade("keep", "-r", reqs[1])
    assert "pre-upgrade" in r.output, r.describe()
    unchanged(r)


def test_failing_post_upgrade_rolls_back(inst, reqs, tmp_path):
    port = serve_index.free_port()
    inst.create("post", reqs[0], web_recipe(tmp_path, port, hooks={"post-upgrade": "exit 5"}))
    inst.start("post")
    serving(port, "1.0")
    r = inst.upgrade("post", "-r", reqs[1])
    assert r.returncode != 0, r.describe()
    assert re.search(r"rolled back|switched back", r.output, re.I) and "generation 1" in r.output, \
        "the message does not say it rolled back to generation 1\n" + r.describe()
    assert inst.live("post") == 1 and inst.generations("post")["live"] == 1
    serving(port, "1.0")
    time.sleep(0.5)
    assert http_get(f"http://127.0.0.1:{port}/") == (200, "webserve 1.0\n")
    assert inst.proc("post", "web")["state"] == "running"


def test_hooks_setup_once_and_upgrade_environment(inst, reqs, tmp_path):
    setup = ('printf "%s|%s|%s|%s\\n" "$INSTANCE_NAME" "$PWD" '
             '"$(test -e "$INSTANCE_DIR/current" && echo current || echo no-current)" '
             '"$(command -v webserve)" >> "$INSTANCE_VAR/setup.log"; env > "$INSTANCE_VAR/setup-env.txt"')
    seen = ('echo "{0} $INSTANCE_GENERATION $(realpath "$VIRTUAL_ENV") $(realpath "$(command -v webserve)") '
            '$(realpath "$INSTANCE_DIR/current")" >> "$INSTANCE_VAR/hooks.log"')
    rec = web_recipe(tmp_path, serve_index.free_port(),
                     hooks={"setup": setup, "pre-upgrade": seen.format("pre"), "post-upgrade": seen.format("post")})
    inst.create("hooky", reqs[0], rec)
    d = inst.dir("hooky")
    real = lambda p: str(Path(p).resolve())  # noqa: E731
    lines = (d / "var" / "setup.log").read_text().splitlines()
    assert len(lines) == 1, lines
    name, cwd, current, webserve = lines[0].split("|")
    assert (name, cwd, current) == ("hooky", str(d / "var"), "no-current"), lines
    assert webserve and real(webserve) == real(d / "generations/1/env/bin/webserve"), \
        f"setup hook: `webserve` is not the new generation's on PATH: {webserve!r}"
    names = {line.split("=", 1)[0] for line in (d / "var" / "setup-env.txt").read_text().splitlines() if "=" in line}
    env_file = set(parse_environment_file((d / "etc/environment").read_text()))
    extra = names - env_file - {"HOME", "LANG"} - SHELL_VARS
    assert not extra, f"the setup hook got variables beyond etc/environment: {sorted(extra)}"
    assert {"INSTANCE_NAME", "VIRTUAL_ENV", "PORT"} <= names

    inst.upgrade("hooky", "-r", reqs[1]).ok()
    assert len((d / "var" / "setup.log").read_text().splitlines()) == 1, "setup ran again at upgrade"
    g1, g2 = real(d / "generations/1"), real(d / "generations/2")
    hooks = (d / "var" / "hooks.log").read_text().splitlines()
    assert hooks == [f"pre 2 {g2}/env {g2}/env/bin/webserve {g1}",
                     f"post 2 {g2}/env {g2}/env/bin/webserve {g2}"], hooks


def test_failing_setup_hook_leaves_no_instance(inst, reqs, tmp_path):
    rec = write(tmp_path / "bad-setup.toml", recipe_text(hooks={"setup": "echo setup-broke >&2; exit 4"}))
    r = inst.create("nope", reqs[0], rec, check=False)
    assert r.returncode != 0, r.describe()
    assert "setup" in r.output, r.describe()
    assert not inst.dir("nope").exists(), "a failed setup left the instance directory"
    assert "nope" not in inst.listing()
    inst.create("nope", reqs[0])  # nothing in the way


def test_upgrade_keeps_pins_and_says_up_to_date(inst, reqs, tmp_path):
    inst.create("pins", reqs[0])
    unpinned = write(tmp_path / "req-any.txt", "webserve\n")
    inst.upgrade("pins", "-r", unpinned).ok()  # new requirements, same pins: webserve stays 1.0
    gens = inst.generations("pins")
    assert gens["live"] == 2 and packages_of(gens["generations"][1])["webserve"] == "1.0", gens
    same = inst.upgrade("pins")
    same.ok()
    assert "pins is up to date (generation 2)" in same.output, same.describe()
    assert inst.generation_dirs("pins") == [1, 2] and inst.live("pins") == 2
    moved = inst.upgrade("pins", "-P", "webserve")
    moved.ok()
    gens = inst.generations("pins")
    assert gens["live"] == 3 and packages_of(gens["generations"][2])["webserve"] == "2.0", gens
    again = inst.upgrade("pins", "-U")
    again.ok()
    assert "pins is up to date (generation 3)" in again.output, again.describe()
    assert inst.generation_dirs("pins") == [1, 2, 3]


def test_gc_keeps_the_newest_and_the_live_generation(inst, reqs):
    inst.create("old", reqs[0])
    inst.upgrade("old", "-r", reqs[1]).ok()
    inst.upgrade("old", "-r", reqs[0]).ok()
    assert inst.generation_dirs("old") == [1, 2, 3] and inst.live("old") == 3
    inst.run("rollback", "old", "--to", "2").ok()
    assert inst.live("old") == 2

    r = inst.run("gc", "old", "--keep", "1").ok()
    assert re.search(r"\b1\b", r.output), "gc does not say it removed generation 1\n" + r.describe()
    assert inst.generation_dirs("old") == [2, 3], "gc must keep the newest and the live generation"
    gens = inst.generations("old")
    assert [g["generation"] for g in gens["generations"]] == [2, 3] and gens["live"] == 2, gens
    assert inst.live("old") == 2 and (inst.dir("old") / "current" / "env" / "bin" / "webserve").exists()

    inst.run("rollback", "old", "--to", "3").ok()
    inst.run("gc", "old", "--keep", "1").ok()
    assert inst.generation_dirs("old") == [3]
    inst.run("gc", "old", "--keep", "1").ok()
    assert inst.generation_dirs("old") == [3] and inst.live("old") == 3
    assert inst.run("rollback", "old", "--to", "1").returncode == 1, "rolled back to a removed generation"


# ---------------------------------------------------------------- disk, units, remove
def test_two_instances_share_their_files(inst, reqs, tmp_path):
    inst.create("one", reqs[0])
    lock = shutil.copy(inst.dir("one") / "generations/1/pylock.toml", tmp_path / "pylock.toml")
    inst.create("two", lock)  # the same environment, from the first one's lock
    a, b = inst.dir("one"), inst.dir("two")
    app = "current/env/lib/python3*/site-packages/webserve/app.py"
    fa, fb = next(a.glob(app)), next(b.glob(app))
    assert fa.stat().st_ino == fb.stat().st_ino, "the two instances do not share webserve/app.py"

    def du(*dirs) -> int:
        r = run(["du", "-skc", *dirs]).ok()
        return int(r.stdout.splitlines()[-1].split()[0])  # hard links counted once
    one, both = du(a), du(a, b)
    print(f"du: one instance {one} KiB, both {both} KiB")
    assert both <= 1.1 * one + 4096, f"two instances take {both} KiB, one alone {one} KiB"
    listed = inst.listing()
    assert listed["one"]["digest"] == listed["two"]["digest"], listed
    for n in ("one", "two"):
        assert listed[n]["shared_bytes"] > 0, listed[n]


def test_systemd_units_verify(inst, reqs, tmp_path):
    if not os.access(SYSTEMD_ANALYZE, os.X_OK):
        missing_prerequisite(f"{SYSTEMD_ANALYZE} not found (apt-get install systemd)")
    port = serve_index.free_port()
    rec = web_recipe(tmp_path, port, processes={"web": WEB, "worker": "sleep 3600"})
    inst.create("unit", reqs[0], rec)
    d = inst.dir("unit")
    units = sorted((d / "etc" / "systemd").iterdir())
    assert [u.name for u in units] == ["lavabuild-unit-web.service", "lavabuild-unit-worker.service"], units
    for unit, command in zip(units, ("webserve", "sleep 3600")):
        v = run([SYSTEMD_ANALYZE, "verify", unit], env=inst.lb.environ, timeout=120)
        complaints = [line for line in v.output.splitlines() if unit.name in line or str(unit) in line]
        assert v.returncode == 0 and not complaints, v.describe()
        u = parse_unit(unit.read_text())
        assert "StartLimitIntervalSec" in u.get("Unit", {}), unit.read_text()
        svc = u.get("Service", {})
        assert [x.lstrip("-") for x in svc.get("EnvironmentFile", [])] == [str(d / "etc" / "environment")], svc
        assert svc.get("WorkingDirectory") == [str(d / "var")], svc
        assert svc.get("Restart") == ["on-failure"], svc
        assert len(svc.get("ExecStart", [])) == 1 and command in svc["ExecStart"][0], svc


def test_remove_needs_yes_and_stops_everything(inst, reqs, tmp_path):
    port = serve_index.free_port()
    inst.create("gone", reqs[0], web_recipe(tmp_path, port))
    inst.create("stays", reqs[0])
    inst.start("gone")
    serving(port, "1.0")
    running = set(processes_under(inst.root))
    assert running, "nothing runs for the instance"

    no = inst.run("remove", "gone")  # stdin is /dev/null, not a terminal
    no.fails(2)
    assert "--yes" in no.output, no.describe()
    assert inst.dir("gone").is_dir() and http_get(f"http://127.0.0.1:{port}/") == (200, "webserve 1.0\n")

    inst.run("remove", "gone", "--yes").ok()
    assert not inst.dir("gone").exists()
    until(f"port {port} closed", lambda: port_closed(port), 12)
    until("no process of the removed instance left", lambda: not processes_under(inst.root), 12)
    assert not any(alive(p) for p in running)
    assert set(inst.listing()) == {"stays"}
    assert inst.dir("stays").is_dir()


def test_example_recipe_works(inst, reqs):
    """recipes/instances/webserve.toml, as documented: setup, serving, upgrade hooks."""
    port = serve_index.free_port()
    inst.create("example", reqs[0], EXAMPLE_RECIPE, env=[f"PORT={port}"])
    d = inst.dir("example")
    assert (d / "var" / "uploads").is_dir(), "the setup hook did not run"
    inst.start("example")
    serving(port, "1.0")
    inst.upgrade("example", "-r", reqs[1]).ok()
    serving(port, "2.0")
    assert (d / "log" / "upgrades.log").read_text() == "generation 2 is live\n"
