"""`lavabuild instance` with an instance user (`--user`), a PostgreSQL database (`--database
postgresql`), and `backup` / `restore`, against real processes and a real PostgreSQL 15 cluster
(the session's `postgres` fixture: local socket connections trusted, TCP ones by password, so a
DATABASE_URL's password is proven by connecting over TCP with it).

The `instances` corpus has webserve 1.0 and 2.0 (an HTTP server on 127.0.0.1:$PORT answering
`GET /` with "webserve VERSION\\n", `GET /env/NAME` with a variable of its environment and
`GET /whoami` with its effective uid). Every test works in its own root (`--root`); its teardown
stops and removes its instances (dropping their databases), kills whatever process still refers
to the root, drops a database or role the test left, and deletes the OS users it made. The
directories above the test's tmp_path get o+x for the test (restored after it) so an instance
user can reach its instance, and so that a refused write into the env or the store is refused
by the permissions of the env and the store, not by a private directory above them.
"""
from __future__ import annotations

import datetime
import json
import os
import pwd
import random
import re
import shutil
import signal
import stat
import subprocess
import time
import tomllib
import urllib.parse
from pathlib import Path

import pytest
from lbtest import (kill_instance_leftovers, alive, ensure_system_user, file_sha, http_get, parse_environment_file, processes_under, run,
                    serving, toml_str, until, wait_for_http, write)

import serve_index  # noqa: E402  (tools/, put on sys.path by conftest)

# No `exec`: a plain command works whether lavabuild runs `/bin/sh -c COMMAND` or (as it did
# for a while) `/bin/sh -c "exec COMMAND"`, where "exec exec webserve" fails.
WEB = "webserve"
PSQL = "/usr/lib/postgresql/15/bin/psql"
BACKUP_FILES = {"pylock.toml", "recipe.toml", "requirements.txt", "manifest.json", "etc.tar.zst",
                "var.tar.zst", "database.dump", "SHA256SUMS"}
# OS users the tests make (every instance name here starts with "lbt-"); the teardown deletes
# those that did not exist before the test, and no other user
OUR_USERS = re.compile(r"lb-lbt-[a-z0-9-]+|lbtest-svc|lbtest-nosuchuser")


# ---------------------------------------------------------------- helpers
def recipe(tmp_path, processes=None, environment=None, hooks=None, name="recipe.toml") -> Path:
    out = []
    for table, items in (("processes", {"web": WEB} if processes is None else processes),
                         ("environment", environment), ("hooks", hooks)):
        if items:
            out.append(f"[{table}]")
            out += [f"{toml_str(k)} = {toml_str(v)}" for k, v in items.items()]
            out.append("")
    return write(tmp_path / name, "\n".join(out))


def get(port: int, path: str) -> str:
    status, body = http_get(f"http://127.0.0.1:{port}{path}")
    assert status == 200, (path, status, body)
    return body


def delete_user(name: str):
    subprocess.run(["userdel", name], capture_output=True)


def no_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return False
    except KeyError:
        return True


def as_user(pw: pwd.struct_passwd, *cmd):
    """Run cmd with the user's uid and gid and no supplementary groups."""
    return run(["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--clear-groups", *cmd], timeout=60)


def tree(root: Path) -> dict:
    """relpath -> ("file", mode, size, sha256) | ("dir", mode) | ("link", target) under root."""
    out = {}
    for dp, dns, fns in os.walk(root):
        for n in dns + fns:
            p = Path(dp) / n
            rel = str(p.relative_to(root))
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", oct(stat.S_IMODE(st.st_mode)))
            else:
                out[rel] = ("file", oct(stat.S_IMODE(st.st_mode)), st.st_size, file_sha(p))
    return out


def content(t: dict) -> dict:
    """A tree() without modes: paths, kinds, sizes, sha256, link targets."""
    return {k: (v[0], *v[2:]) if v[0] != "link" else v for k, v in t.items()}


def same_tree(got: dict, want: dict, what: str):
    """Content first (a clearer message), then modes."""
    c_got, c_want = content(got), content(want)
    if c_got != c_want:
        missing = sorted(set(c_want) - set(c_got))
        extra = sorted(set(c_got) - set(c_want))
        differ = sorted(k for k in set(c_got) & set(c_want) if c_got[k] != c_want[k])
        raise AssertionError(f"{what}: missing {missing[:10]}, extra {extra[:10]}, different {differ[:10]}")
    modes = {k: (want[k][1], got[k][1]) for k in want if want[k] != got[k]}
    assert not modes, f"{what}: same content, other modes (wanted, got): {modes}"


def not_owned_by(root: Path, uid: int, gid: int | None = None) -> list:
    """Everything under root (root included) not owned by uid (and gid, when given)."""
    bad = []
    for dp, dns, fns in os.walk(root):
        for p in [Path(dp)] + [Path(dp) / n for n in dns + fns]:
            st = os.lstat(p)
            if st.st_uid != uid or (gid is not None and st.st_gid != gid):
                bad.append(f"{p} {st.st_uid}:{st.st_gid}")
    return sorted(set(bad))


def fill_var(var: Path, seed: int, owner: pwd.struct_passwd | None = None):
    """What a service keeps in var/: text, a random binary, a private file, an empty directory,
    a deep path and a relative symlink."""
    rng = random.Random(seed)
    files = {
        "uploads/a.txt": f"upload a of {seed}\n".encode(),
        "uploads/big.bin": rng.randbytes(300 * 1024),
        "secret.key": f"key {seed}\n".encode(),
        "nested/deep/er/y.txt": b"deep\n" * seed,
    }
    for rel, content in files.items():
        p = var / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content)
    os.chmod(var / "secret.key", 0o600)
    (var / "empty-dir").mkdir(exist_ok=True)
    link = var / "latest-upload"
    if link.is_symlink():
        link.unlink()
    link.symlink_to("uploads/a.txt")
    if owner:
        for dp, dns, fns in os.walk(var):
            for n in dns + fns:
                os.lchown(Path(dp) / n, owner.pw_uid, owner.pw_gid)


def fill_db(pg, url: str, seed: int, rows: int = 300, notes: int = 2000):
    """Two tables: items (serial, text with non-ASCII, numeric, bytea, timestamptz, NULLs) and
    notes (random text, so the dump does not compress to nothing)."""
    pg.psql(url, f"""
        CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, price numeric(10,2), data bytea,
                            added timestamptz);
        INSERT INTO items (name, price, data, added)
            SELECT 'item ' || g || ' é ✓ {seed}', g * 1.25, decode(md5(g::text || '{seed}'), 'hex'),
                   timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute'
            FROM generate_series(1, {rows}) g;
        INSERT INTO items (name) VALUES ('null fields {seed}');
        CREATE TABLE notes (k text PRIMARY KEY, v text NOT NULL);
        INSERT INTO notes SELECT 'k' || g, md5(random()::text) || md5(random()::text) || md5(random()::text)
                                             || md5(random()::text) || md5(random()::text)
            FROM generate_series(1, {notes}) g;
    """)


def db_content(pg, url: str) -> dict:
    """table -> (row count, md5 of the rows in order) for every table of schema public."""
    tables = pg.psql(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1").split()
    out = {}
    for t in tables:
        got = pg.psql(url, f'SELECT count(*), md5(coalesce(string_agg(r::text, E\'\\n\' ORDER BY r::text), \'\')) '
                           f'FROM public."{t}" r')
        out[t] = tuple(got.split("|"))
    return out


def table_owners(pg, url: str) -> dict:
    rows = pg.psql(url, "SELECT c.relname || '=' || pg_get_userbyid(c.relowner) FROM pg_class c "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'S') ORDER BY 1").split()
    return dict(r.split("=", 1) for r in rows)


def flip_byte(path: Path):
    b = bytearray(path.read_bytes())
    b[len(b) // 2] ^= 0xFF
    path.write_bytes(bytes(b))


def sha256sums(path: Path) -> dict:
    """name -> sha256 of a SHA256SUMS file (sha256sum's format: HASH, space, space or '*', NAME)."""
    out = {}
    for line in path.read_text().splitlines():
        m = re.fullmatch(r"([0-9a-f]{64}) [ *](.+)", line)
        assert m, f"{path}: not a sha256sum line: {line!r}"
        out[m.group(2)] = m.group(1)
    return out


def rewrite_sum(backup: Path, name: str):
    """Make SHA256SUMS agree with the (changed) file `name`."""
    sums = backup / "SHA256SUMS"
    lines = []
    for line in sums.read_text().splitlines():
        m = re.fullmatch(r"([0-9a-f]{64}) ([ *])(.+)", line)
        if m and m.group(3) == name:
            line = f"{file_sha(backup / name)} {m.group(2)}{name}"
        lines.append(line)
    sums.write_text("\n".join(lines) + "\n")


# ---------------------------------------------------------------- fixtures
class DataInstances:
    """`lavabuild instance …` on one root with the cluster's libpq variables (PGHOST, PGPORT,
    PGUSER) and nothing else of PG* from the caller's environment."""

    def __init__(self, lb, corpus, root: Path, pg):
        self.lb, self.corpus, self.root, self.pg = lb, corpus, root, pg

    def environ(self, pg_env=True, extra=None) -> dict:
        e = {k: v for k, v in self.lb.environ.items() if not k.startswith("PG")}
        if pg_env:
            e.update(self.pg.environ())
        e.update(extra or {})
        return e

    def run(self, *args, pg_env=True, env=None, timeout=300):
        return run(self.lb.argv("instance", *args, "--root", self.root), env=self.environ(pg_env, env),
                   timeout=timeout, pipe_grace=30)

    def build_opts(self) -> list:
        return ["--python", self.lb.python, "--cache-dir", self.lb.cache_dir, "-i", self.corpus.index_url]

    def create(self, name, req, rec=None, env=(), user=None, database=False, db_admin=None, check=True,
               pg_env=True, run_env=None):
        """user: None (no --user), "" (`--user` alone) or a user name (`--user NAME`)."""
        args = ["create", name, "-r", req, *self.build_opts()]
        if rec:
            args += ["--recipe", rec]
        for kv in env:
            args += ["--env", kv]
        if database:
            args += ["--database", "postgresql"]
        if db_admin:
            args += ["--db-admin", db_admin]
        if user is not None:
            args += ["--user"] + ([user] if user else [])
        r = self.run(*args, pg_env=pg_env, env=run_env)
        if check:
            r.ok()
        return r

    def backup(self, name, *args, check=True):
        r = self.run("backup", name, *args, *self.build_opts())
        if check:
            r.ok()
        return r

    def backup_path(self, r, name) -> Path:
        """The backup's path: the first line on stdout, ROOT/backups/NAME/<UTC timestamp>/."""
        lines = r.stdout.splitlines()
        assert lines, "backup printed no path on stdout\n" + r.describe()
        m = re.fullmatch(rf"{re.escape(str(self.root))}/backups/{re.escape(name)}/(\d{{8}}T\d{{6}}Z)/?", lines[0])
        assert m, f"the first line on stdout is not ROOT/backups/{name}/<UTC timestamp>/\n" + r.describe()
        when = datetime.datetime.strptime(m.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
        assert abs((datetime.datetime.now(datetime.timezone.utc) - when).total_seconds()) < 600, \
            f"the backup's timestamp is not the UTC time of now: {m.group(1)}"
        p = Path(lines[0])
        assert p.is_dir(), r.describe()
        return p

    def restore(self, name, backup, check=True):
        r = self.run("restore", name, backup, *self.build_opts())
        if check:
            r.ok()
        return r

    def dir(self, name) -> Path:
        return self.root / "instances" / name

    def names(self) -> set:
        """The instances' directories under ROOT/instances (not the `.NAME.lock` files)."""
        base = self.root / "instances"
        return {p.name for p in base.iterdir() if not re.fullmatch(r"\..*\.lock", p.name)} if base.is_dir() else set()

    def environment(self, name) -> dict:
        return parse_environment_file((self.dir(name) / "etc" / "environment").read_text())

    def database_url(self, name) -> str:
        env = self.environment(name)
        assert "DATABASE_URL" in env, f"no DATABASE_URL in {name}'s etc/environment: {sorted(env)}"
        return env["DATABASE_URL"]

    def generations(self, name) -> dict:
        return self.run("generations", name, "--json").ok().json()

    def live_digest(self, name) -> str:
        g = self.generations(name)
        return next(x["digest"] for x in g["generations"] if x["generation"] == g["live"])

    def generation_dirs(self, name) -> list:
        return sorted(int(p.name) for p in (self.dir(name) / "generations").iterdir())

    def pid(self, name, process="web"):
        data = self.run("status", name, "--json").ok().json()
        return next(p for p in data["processes"] if p["name"] == process)["pid"]

    def start(self, name):
        return self.run("start", name).ok()

    def cleanup(self):
        for name in sorted(self.names()):
            for args in (("stop", name), ("remove", name, "--yes")):
                try:
                    self.run(*args, timeout=120)
                except Exception:  # noqa: BLE001  (teardown: kill below whatever is left)
                    pass
        kill_instance_leftovers(self.root, self.lb.binary)


def open_for_others(path: Path) -> list:
    """o+x (and g+x) on path and the directories above it that lack it; [(dir, old mode)]."""
    changed = []
    for p in [path, *path.parents]:
        mode = stat.S_IMODE(os.stat(p).st_mode)
        if mode & 0o001:
            break
        os.chmod(p, mode | 0o011)
        changed.append((p, mode))
    return changed


@pytest.fixture
def data(lb, instances, postgres, tmp_path):
    users_before = {p.pw_name for p in pwd.getpwall()}
    opened = open_for_others(tmp_path)
    dbs, roles = postgres.databases(), postgres.roles()
    i = DataInstances(lb, instances, tmp_path / "root", postgres)
    yield i
    try:
        i.cleanup()
        # a database or role the test (or a failed removal) left: dropped, so the next test
        # starts clean (tests check what should be gone themselves)
        for db in sorted(postgres.databases() - dbs):
            print(f"teardown: dropping leftover database {db}")
            postgres.psql("postgres", f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)', check=False)
        for role in sorted(postgres.roles() - roles):
            print(f"teardown: dropping leftover role {role}")
            postgres.psql("postgres", f'DROP ROLE IF EXISTS "{role}"', check=False)
        for p in pwd.getpwall():
            if p.pw_name not in users_before and OUR_USERS.fullmatch(p.pw_name):
                delete_user(p.pw_name)
    finally:
        for p, mode in opened:
            os.chmod(p, mode)


@pytest.fixture
def reqs(tmp_path):
    """Requirement files: webserve 1.0, webserve 2.0."""
    return (write(tmp_path / "req1.txt", "webserve==1.0\n"), write(tmp_path / "req2.txt", "webserve==2.0\n"))


# ---------------------------------------------------------------- --user
def test_user_alone_makes_a_system_user_that_runs_processes_and_hooks(data, reqs, tmp_path, lb):
    name, user = "lbt-usr", "lb-lbt-usr"
    delete_user(user)  # a leftover of an interrupted run
    assert no_user(user)
    port = serve_index.free_port()
    rec = recipe(tmp_path, hooks={"setup": 'id -u > "$INSTANCE_VAR/hook-uid"; id -g > "$INSTANCE_VAR/hook-gid"; '
                                           'mkdir -p "$INSTANCE_VAR/made/by/hook"'})
    r = data.create(name, reqs[0], rec, env=[f"PORT={port}"], user="")
    try:
        pw = pwd.getpwnam(user)
    except KeyError:
        pytest.fail(f"`--user` did not make the user {user}\n" + r.describe())
    assert 0 < pw.pw_uid < 1000, f"{user} is not a system user: uid {pw.pw_uid}"
    d = data.dir(name)

    # hooks ran as the user (uid and gid)
    assert (d / "var/hook-uid").read_text().strip() == str(pw.pw_uid), "the setup hook did not run as the user"
    assert (d / "var/hook-gid").read_text().strip() == str(pw.pw_gid), "the setup hook did not run with its group"
    # var/ run/ log/ are the user's (all the way down: checked at the end, after start)
    for sub in ("var", "run", "log"):
        assert os.lstat(d / sub).st_uid == pw.pw_uid, f"{sub}/ is not owned by {user}"
    owned_after_create = {sub: not_owned_by(d / sub, pw.pw_uid) for sub in ("var", "run", "log")}
    # etc/environment: 0640 root:the user's group (etc/ stays root's)
    st = os.stat(d / "etc/environment")
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o640, 0, pw.pw_gid), \
        f"etc/environment is {oct(stat.S_IMODE(st.st_mode))} {st.st_uid}:{st.st_gid}, want 0640 0:{pw.pw_gid}"
    st = os.stat(d / "etc")
    assert st.st_uid == 0 and not st.st_mode & 0o022, "etc/ must stay root's"

    # the process runs as the user
    data.start(name)
    serving(port, "1.0")
    assert get(port, "/whoami").strip() == str(pw.pw_uid), "the web process does not run as the instance user"
    pid = data.pid(name)
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    assert status["Uid"].split() == [str(pw.pw_uid)] * 4, f"real/effective/saved/fs uid: {status['Uid']}"
    assert status["Gid"].split() == [str(pw.pw_gid)] * 4, f"real/effective/saved/fs gid: {status['Gid']}"
    assert "0" not in status.get("Groups", "").split(), f"the process keeps root's group: {status['Groups']}"
    until("log/web.log written", lambda: (d / "log/web.log").exists(), 5)

    # the user can neither write into the env nor into the store
    assert as_user(pw, "touch", d / "var/i-can-write-here").returncode == 0, "control: the user cannot write var/"
    assert as_user(pw, "cat", d / "etc/environment").returncode == 0, "the user cannot read etc/environment"
    env = (d / "current").resolve() / "env"
    app = next(env.glob("lib/python3*/site-packages/webserve/app.py"))
    app_sha = file_sha(app)
    app_ino = os.stat(app)
    blob = next((p for p in Path(lb.cache_dir).rglob("*") if p.is_file() and not p.is_symlink()
                 and (os.stat(p).st_dev, os.stat(p).st_ino) == (app_ino.st_dev, app_ino.st_ino)), None)
    if blob is None:  # not a hard link (copy mode): any file of the store
        blob = next(p for p in Path(lb.cache_dir).rglob("*") if p.is_file() and not p.is_symlink())
    for target in (env / "bin" / "x", env / "bin" / "webserve", app, blob, d / "etc" / "environment",
                   d / "etc" / "instance.toml", d / "generations" / "x"):
        t = as_user(pw, "touch", target)
        assert t.returncode != 0, f"{user} could write {target}\n" + t.describe()
    m = as_user(pw, "mkdir", env / "lib" / "evil")
    assert m.returncode != 0, f"{user} could make a directory in the env\n" + m.describe()
    assert file_sha(app) == app_sha and not (env / "bin" / "x").exists()
    # and nothing of the env is the user's or writable by it
    for dp, dns, fns in os.walk(env):
        for n in dns + fns:
            p = Path(dp) / n
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                continue
            assert st.st_uid == 0, f"{p} is owned by uid {st.st_uid}, not root"
            assert not st.st_mode & 0o002 and not (st.st_gid == pw.pw_gid and st.st_mode & 0o020), \
                f"{p} is writable by {user}: {oct(st.st_mode)} {st.st_uid}:{st.st_gid}"

    # last: var/ run/ log/ the user's all the way down, after create and after start (a file root
    # writes there, in a directory the user owns, can be swapped for a symlink by the user)
    assert not any(owned_after_create.values()), f"after create, not owned by {user}: {owned_after_create}"
    after_start = {sub: not_owned_by(d / sub, pw.pw_uid) for sub in ("var", "run", "log")}
    assert not any(after_start.values()), f"after start, not owned by {user}: {after_start}"


def test_user_cannot_make_root_write_through_its_directories(data, reqs, tmp_path):
    """log/ and run/ belong to the instance user: what lavabuild (root) writes there must not
    follow a symlink the user put in place of its files (the user would append what it likes
    to any file of the system)."""
    name, user = "lbt-sym", "lb-lbt-sym"
    delete_user(user)
    port = serve_index.free_port()
    rec = recipe(tmp_path, hooks={"pre-upgrade": "echo pre-upgrade ran", "post-upgrade": "echo post-upgrade ran"})
    data.create(name, reqs[0], rec, env=[f"PORT={port}"], user="")
    pw = pwd.getpwnam(user)
    d = data.dir(name)
    victim = tmp_path / "victim"
    victim.write_text("root's file\n")
    os.chmod(victim, 0o600)
    names = ["log/web.log", "log/hooks.log", "log/supervisor.log", "run/web.pid", "run/web.json",
             "run/supervisor.pid", "run/supervisor.json"]
    for rel in names:
        r = as_user(pw, "sh", "-c", f'rm -f "{d / rel}" && ln -s "{victim}" "{d / rel}"')
        assert r.returncode == 0, r.describe()
    data.start(name)
    serving(port, "1.0")
    data.run("upgrade", name, "-r", reqs[1], *data.build_opts())  # runs the hooks; may fail
    data.run("stop", name)
    assert victim.read_text() == "root's file\n", \
        f"lavabuild followed a symlink the instance user planted in log/ or run/ ({names}) and wrote " \
        f"into a root-owned file:\n{victim.read_text()[:2000]}"
    st = victim.stat()
    assert (stat.S_IMODE(st.st_mode), st.st_uid) == (0o600, 0), "the victim's owner or mode changed"


def test_user_existing_is_used_and_a_missing_one_is_refused(data, reqs, tmp_path):
    missing = "lbtest-nosuchuser"
    delete_user(missing)
    r = data.create("lbt-nouser", reqs[0], user=missing, check=False)
    r.fails(1)
    assert missing in r.output, "the message does not name the missing user\n" + r.describe()
    assert not data.dir("lbt-nouser").exists(), "a refused --user left an instance directory"
    assert no_user(missing), "--user USER made the user; it must exist already"

    svc = ensure_system_user("lbtest-svc")
    port = serve_index.free_port()
    rec = recipe(tmp_path, hooks={"setup": 'id -u > "$INSTANCE_VAR/hook-uid"'})
    data.create("lbt-ex", reqs[0], rec, env=[f"PORT={port}"], user="lbtest-svc")
    assert no_user("lb-lbt-ex"), "--user USER made lb-NAME instead of using USER"
    d = data.dir("lbt-ex")
    assert (d / "var/hook-uid").read_text().strip() == str(svc.pw_uid)
    st = os.stat(d / "etc/environment")
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o640, 0, svc.pw_gid)
    data.start("lbt-ex")
    serving(port, "1.0")
    assert get(port, "/whoami").strip() == str(svc.pw_uid)
    bad = {sub: not_owned_by(d / sub, svc.pw_uid) for sub in ("var", "run", "log")}
    assert not any(bad.values()), f"not owned by lbtest-svc: {bad}"


# ---------------------------------------------------------------- --database postgresql
def test_database_role_url_and_remove(data, reqs, tmp_path, postgres):
    pg = postgres
    name, db = "lbt-db", "lb_lbt_db"
    port = serve_index.free_port()
    setup = ('printf %s "$DATABASE_URL" > "$INSTANCE_VAR/database-url"; '
             'psql -X -q -v ON_ERROR_STOP=1 "$DATABASE_URL" '
             '-c "CREATE TABLE hook_made (x int); INSERT INTO hook_made VALUES (42)"')
    data.create(name, reqs[0], recipe(tmp_path, hooks={"setup": setup}), env=[f"PORT={port}"], database=True)
    d = data.dir(name)

    # etc/environment holds a password: 0600 root without --user
    st = os.stat(d / "etc/environment")
    assert (stat.S_IMODE(st.st_mode), st.st_uid) == (0o600, 0), \
        f"etc/environment is {oct(stat.S_IMODE(st.st_mode))} uid {st.st_uid}, want 0600 root"

    # DATABASE_URL: postgresql://lb_NAME:PASSWORD@/lb_NAME?host=SOCKETDIR&port=PORT
    url = data.database_url(name)
    u = urllib.parse.urlsplit(url)
    q = urllib.parse.parse_qs(u.query)
    assert (u.scheme, u.username, u.path, u.hostname) == ("postgresql", db, f"/{db}", None), url
    assert u.netloc.endswith("@") and q == {"host": [pg.host], "port": [str(pg.port)]}, url
    password = urllib.parse.unquote(u.password or "")
    assert len(password) >= 16, f"a weak or empty password: {password!r}"
    assert (d / "var/database-url").read_text() == url, "the setup hook did not get DATABASE_URL"

    # the role and the database, owned by the role, which is no superuser
    assert db in pg.databases() and db in pg.roles()
    assert pg.psql("postgres", f"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{db}'") == db
    assert pg.psql("postgres", f"SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = '{db}'") \
        == "f|f|f", "the instance role has administrator rights"
    assert pg.psql(url, "SELECT current_user, current_database()") == f"{db}|{db}"
    assert pg.psql(url, "SELECT x FROM hook_made") == "42"
    assert table_owners(pg, url) == {"hook_made": db}
    # the password is real: TCP connections need it (scram-sha-256)
    tcp = f"postgresql://{db}:{urllib.parse.quote(password, safe='')}@127.0.0.1:{pg.port}/{db}"
    assert pg.psql(tcp, "SELECT current_user") == db
    wrong = pg.psql(f"postgresql://{db}:wrong@127.0.0.1:{pg.port}/{db}", "SELECT 1", check=False)
    assert wrong.returncode != 0, "control: TCP does not check passwords"

    # the instance's role makes tables and rows
    fill_db(pg, url, 1, rows=10, notes=5)
    assert db_content(pg, url)["items"][0] == "11"

    # the process sees the same URL
    data.start(name)
    serving(port, "1.0")
    assert get(port, "/env/DATABASE_URL") == url

    # a second instance gets its own role, database and password
    data.create("lbt-db2", reqs[0], database=True)
    url2 = data.database_url("lbt-db2")
    assert urllib.parse.urlsplit(url2).username == "lb_lbt_db2" and urllib.parse.urlsplit(url2).password != u.password
    assert pg.psql(url2, "SELECT to_regclass('public.items')") == "", "a second instance sees the first one's tables"

    # remove drops both
    data.run("remove", name, "--yes").ok()
    assert not d.exists()
    assert db not in pg.databases(), "remove --yes left the database"
    assert db not in pg.roles(), "remove --yes left the role"
    assert "lb_lbt_db2" in pg.databases(), "remove dropped another instance's database"


def test_user_and_database_together(data, reqs, tmp_path, postgres):
    """Hooks run as the instance user reach the database through the socket directory."""
    name, db, user = "lbt-both", "lb_lbt_both", "lb-lbt-both"
    delete_user(user)
    setup = ('psql -X -q -v ON_ERROR_STOP=1 "$DATABASE_URL" '
             '-c "CREATE TABLE made_by (uid int); INSERT INTO made_by VALUES ($(id -u))"')
    data.create(name, reqs[0], recipe(tmp_path, hooks={"setup": setup}), user="", database=True)
    pw = pwd.getpwnam(user)
    url = data.database_url(name)
    st = os.stat(data.dir(name) / "etc/environment")
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o640, 0, pw.pw_gid)
    assert postgres.psql(url, "SELECT uid FROM made_by") == str(pw.pw_uid)
    assert table_owners(postgres, url) == {"made_by": db}
    data.run("remove", name, "--yes").ok()
    assert db not in postgres.databases() and db not in postgres.roles()


def test_db_admin_url_over_tcp(data, reqs, postgres):
    """--db-admin wins over libpq's variables (here pointing at a closed port); the URL is then
    host:port, and remove drops the database with the admin password from PGPASSWORD alone.
    A --db-admin URL with a password in it is refused: command lines are public."""
    pg = postgres
    name, db = "lbt-adm", "lb_lbt_adm"
    closed = serve_index.closed_port()
    wrong_pg = {"PGHOST": pg.host, "PGPORT": str(closed), "PGUSER": "nobody"}
    r = data.create(name, reqs[0], database=True, db_admin=pg.admin_url(with_password=True),
                    pg_env=False, run_env=wrong_pg, check=False)
    r.fails(1)
    assert "--db-admin carries a password" in r.output and "PGPASSWORD" in r.output, r.describe()
    assert pg.password not in r.output, "the password was echoed\n" + r.describe()
    assert not data.dir(name).exists() and db not in pg.databases()
    data.create(name, reqs[0], database=True, db_admin=pg.admin_url(), pg_env=False,
                run_env={**wrong_pg, "PGPASSWORD": pg.password})
    url = data.database_url(name)
    u = urllib.parse.urlsplit(url)
    assert (u.scheme, u.username, u.hostname, u.port, u.path) == ("postgresql", db, "127.0.0.1", pg.port, f"/{db}"), url
    assert not u.query, url
    assert pg.psql(url, "SELECT current_user, current_database()") == f"{db}|{db}"  # TCP: the password works
    r = data.run("remove", name, "--yes", pg_env=False, env={"PGPASSWORD": pg.password})
    r.ok()
    assert db not in pg.databases() and db not in pg.roles(), \
        "remove --yes of an instance made with --db-admin left its database or role\n" + r.describe()


@pytest.mark.parametrize("where", ["socket", "tcp"])
def test_missing_server_leaves_nothing(data, reqs, postgres, where):
    pg = postgres
    closed = serve_index.closed_port()
    host = pg.host if where == "socket" else "127.0.0.1"
    dbs, roles = pg.databases(), pg.roles()
    r = data.create("lbt-nodb", reqs[0], database=True, check=False, pg_env=False,
                    run_env={"PGHOST": host, "PGPORT": str(closed), "PGUSER": pg.user})
    r.fails(1)
    assert str(closed) in r.output and host in r.output, "the message does not name the server\n" + r.describe()
    assert re.search(r"PGHOST|PGPORT|--db-admin", r.output), \
        "the message does not say what to do (PGHOST/PGPORT or --db-admin)\n" + r.describe()
    assert not data.dir("lbt-nodb").exists(), "a failed create left the instance directory"
    assert data.names() == set()
    assert pg.databases() == dbs and pg.roles() == roles


def test_failed_setup_hook_drops_the_database(data, reqs, tmp_path, postgres):
    rec = recipe(tmp_path, hooks={"setup": 'psql -X -q "$DATABASE_URL" -c "CREATE TABLE t (x int)"; exit 4'})
    r = data.create("lbt-hookfail", reqs[0], rec, database=True, check=False)
    assert r.returncode != 0, r.describe()
    assert "setup" in r.output, r.describe()
    assert not data.dir("lbt-hookfail").exists()
    assert "lb_lbt_hookfail" not in postgres.databases(), "a failed create left its database"
    assert "lb_lbt_hookfail" not in postgres.roles(), "a failed create left its role"


# ---------------------------------------------------------------- backup, restore
def test_env_digest_does_not_depend_on_the_root_path_length(data, reqs, tmp_path, lb):
    """Below a deep root the console scripts' shebang would pass the kernel's 127 bytes, and the
    env gets /bin/sh trampolines instead. Its digest must stay the env's (README: "independent
    of where the env lives"): restore and `backup --verify` (whose scratch instance,
    `verify-` and 12 hex digits, has a longer path than most instances) compare digests."""
    deep = DataInstances(data.lb, data.corpus, tmp_path / ("d" * 110) / "root", data.pg)
    try:
        deep.create("x", reqs[0])
        script = (deep.dir("x") / "current" / "env" / "bin" / "webserve").read_text()
        assert script.startswith("#!/bin/sh\n"), "control: the shebang was not too long here\n" + script[:300]
        plain = lb.env_json(deep.dir("x") / "current" / "pylock.toml", "-o", tmp_path / "env", "--python", lb.python,
                            "-i", data.corpus.index_url)
        assert deep.live_digest("x") == plain["digest"], \
            "the same lock gives another env digest below a deep root"
        v = deep.backup("x", "--verify", check=False)
        assert v.returncode == 0 and "backup verified" in v.output, v.describe()
    finally:
        deep.cleanup()


def check_backup_files(data, name, path: Path, database=True):
    d = data.dir(name)
    gen = (d / "current").resolve()
    want = BACKUP_FILES if database else BACKUP_FILES - {"database.dump"}
    got = {p.name for p in path.iterdir()}
    assert want <= got, f"backup holds {sorted(got)}, without {sorted(want - got)}"
    if not database:
        assert "database.dump" not in got, "a backup of an instance without a database has a dump"
    sums = sha256sums(path / "SHA256SUMS")
    assert set(sums) == got - {"SHA256SUMS"}, f"SHA256SUMS lists {sorted(sums)}, the backup holds {sorted(got)}"
    for f, h in sums.items():
        assert file_sha(path / f) == h, f"SHA256SUMS is wrong about {f}"
    run(["sha256sum", "--check", "--strict", "--quiet", "SHA256SUMS"], cwd=path).ok()
    assert (path / "pylock.toml").read_bytes() == (gen / "pylock.toml").read_bytes()
    assert (path / "requirements.txt").read_bytes() == (gen / "requirements.txt").read_bytes()
    assert tomllib.loads((path / "recipe.toml").read_text()) == tomllib.loads((gen / "recipe.toml").read_text())
    assert json.loads((path / "manifest.json").read_text()) == json.loads((gen / "generation.json").read_text())
    listing = run(["sh", "-c", "zstd -dc var.tar.zst | tar -tf -"], cwd=path).ok().stdout.splitlines()
    assert any(n.rstrip("/").endswith("uploads/a.txt") for n in listing), listing
    run(["sh", "-c", "zstd -dc etc.tar.zst | tar -tf -"], cwd=path).ok()
    if database:
        assert (path / "database.dump").read_bytes()[:5] == b"PGDMP", "database.dump is not pg_dump -Fc"
        toc = run(["/usr/lib/postgresql/15/bin/pg_restore", "-l", path / "database.dump"]).ok().stdout
        assert "TABLE public items" in toc, toc


def test_backup_remove_create_restore_roundtrip(data, reqs, tmp_path, postgres):
    pg = postgres
    name, db = "lbt-bk", "lb_lbt_bk"
    port = serve_index.free_port()
    setup = ('mkdir -p "$INSTANCE_VAR/uploads"; psql -X -q -v ON_ERROR_STOP=1 "$DATABASE_URL" '
             '-c "CREATE TABLE hook_made (x int); INSERT INTO hook_made VALUES (42)"')
    rec = recipe(tmp_path, hooks={"setup": setup})
    data.create(name, reqs[0], rec, env=[f"PORT={port}"], database=True)
    d = data.dir(name)
    url = data.database_url(name)
    fill_var(d / "var", 3)
    fill_db(pg, url, 3)
    data.start(name)
    serving(port, "1.0")

    digest = data.live_digest(name)
    var_before = tree(d / "var")
    rows_before = db_content(pg, url)
    assert set(rows_before) == {"hook_made", "items", "notes"}, rows_before

    # backup: one line on stdout, the files, no temporary directory left
    r = data.backup(name)
    assert len(r.stdout.splitlines()) == 1, "backup printed more than its path on stdout\n" + r.describe()
    path = data.backup_path(r, name)
    check_backup_files(data, name, path)
    assert [p.name for p in path.parent.iterdir()] == [path.name], \
        f"more than the backup in {path.parent}: {sorted(p.name for p in path.parent.iterdir())}"
    assert get(port, "/") == "webserve 1.0\n", "the instance stopped serving after a backup"

    # --verify: restores a new backup into a scratch instance (own database) and removes it
    time.sleep(1.1)  # a new timestamp
    dbs, roles = pg.databases(), pg.roles()
    v = data.backup(name, "--verify")
    assert "backup verified" in v.output, v.describe()
    vpath = data.backup_path(v, name)
    assert vpath != path
    check_backup_files(data, name, vpath)
    assert data.names() == {name}, f"the scratch instance was left: {data.names()}"
    assert pg.databases() == dbs and pg.roles() == roles, \
        f"--verify left databases {pg.databases() - dbs} / roles {pg.roles() - roles}"
    assert get(port, "/") == "webserve 1.0\n"

    # gone with its database; the backups stay
    data.run("remove", name, "--yes").ok()
    assert not d.exists() and db not in pg.databases() and db not in pg.roles()
    assert path.is_dir() and (path / "database.dump").is_file(), "remove deleted the backups"

    # the same name again: a new, empty database
    data.create(name, reqs[0], rec, env=[f"PORT={port}"], database=True)
    url2 = data.database_url(name)
    assert url2 != url, "the new database has the old password"
    assert pg.psql(url2, "SELECT to_regclass('public.items')") == ""
    write(d / "var" / "only-in-the-new-instance.txt", "gone after restore\n")
    instance_toml = (d / "etc/instance.toml").read_bytes()

    r = data.restore(name, path)
    gens = data.generations(name)
    assert gens["live"] == 2 and data.generation_dirs(name) == [1, 2], gens
    assert re.search(r"generation\D{0,20}\b2\b|\b2\b\D{0,20}generation", r.output), \
        "restore does not say which generation is live\n" + r.describe()
    assert data.live_digest(name) == digest, "the restored env differs from the backed-up one"
    same_tree(tree(d / "var"), var_before, "var/ after restore vs the backup's")
    assert db_content(pg, url2) == rows_before, "the rows differ from the backup's"
    assert data.database_url(name) == url2, "restore replaced the instance's own DATABASE_URL"
    assert (d / "etc/instance.toml").read_bytes() == instance_toml, "restore replaced etc/instance.toml"
    owners = table_owners(pg, url2)
    assert set(owners.values()) == {db}, f"restored objects not owned by {db}: {owners}"
    # the sequence came back too: the role inserts after the restored rows
    assert pg.psql(url2, "INSERT INTO items (name) VALUES ('after restore') RETURNING id") == str(300 + 2)
    # the processes were not running before the restore: still not
    status = data.run("status", name, "--json").ok().json()
    assert all(p["state"] == "stopped" for p in status["processes"]), status
    data.start(name)
    serving(port, "1.0")
    assert get(port, "/env/DATABASE_URL") == url2


def test_backup_without_database(data, reqs, tmp_path):
    name = "lbt-nodbbk"
    data.create(name, reqs[1])
    fill_var(data.dir(name) / "var", 5)
    path = data.backup_path(data.backup(name), name)
    check_backup_files(data, name, path, database=False)
    v = data.backup(name, "--verify")
    assert "backup verified" in v.output, v.describe()
    assert data.names() == {name}


def instance_state(data, pg, name) -> dict:
    d = data.dir(name)
    return {"live": data.generations(name)["live"], "generation dirs": data.generation_dirs(name),
            "current": os.readlink(d / "current"), "var": tree(d / "var"),
            "rows": db_content(pg, data.database_url(name)), "etc/environment": (d / "etc/environment").read_text()}


def assert_same_state(before: dict, after: dict, r):
    for k in before:
        assert after[k] == before[k], f"the failed restore changed {k}\n" + r.describe()


def test_tampered_backup_is_refused_and_nothing_changes(data, reqs, tmp_path, postgres):
    pg = postgres
    name = "lbt-tamper"
    port = serve_index.free_port()
    data.create(name, reqs[0], recipe(tmp_path), env=[f"PORT={port}"], database=True)
    d = data.dir(name)
    url = data.database_url(name)
    fill_var(d / "var", 7)
    fill_db(pg, url, 7)
    data.start(name)
    serving(port, "1.0")
    path = data.backup_path(data.backup(name), name)
    # after the backup: a row and a file more, so a restore that went ahead would show
    pg.psql(url, "INSERT INTO items (name) VALUES ('after the backup')")
    write(d / "var" / "after-the-backup.txt", "new\n")
    before = instance_state(data, pg, name)
    pid = data.pid(name)

    bad_var = Path(shutil.copytree(path, tmp_path / "bad-var"))
    flip_byte(bad_var / "var.tar.zst")
    no_dump = Path(shutil.copytree(path, tmp_path / "no-dump"))
    (no_dump / "database.dump").unlink()
    bad_sums = Path(shutil.copytree(path, tmp_path / "bad-manifest"))
    (bad_sums / "manifest.json").write_bytes((path / "manifest.json").read_bytes() + b"\n ")  # same JSON

    for bad, named in ((bad_var, "var.tar.zst"), (no_dump, "database.dump"), (bad_sums, "manifest.json")):
        r = data.restore(name, bad, check=False)
        r.fails(1)
        assert named in r.output, f"the message does not name {named}\n" + r.describe()
        assert_same_state(before, instance_state(data, pg, name), r)
        assert data.pid(name) == pid, "a refused restore touched the running process\n" + r.describe()
        assert get(port, "/") == "webserve 1.0\n"

    # the same into another instance (as --verify's scratch instance would be): refused, untouched
    data.create("lbt-tamper2", reqs[1], database=True)
    other = instance_state(data, pg, "lbt-tamper2")
    for bad, named in ((bad_var, "var.tar.zst"), (no_dump, "database.dump")):
        r = data.restore("lbt-tamper2", bad, check=False)
        r.fails(1)
        assert named in r.output, r.describe()
        assert_same_state(other, instance_state(data, pg, "lbt-tamper2"), r)

    # the intact backup still restores
    data.restore(name, path)
    assert tree(d / "var") != before["var"] and not (d / "var" / "after-the-backup.txt").exists()


def test_restore_failing_midway_leaves_the_instance_as_it_was(data, reqs, tmp_path, postgres):
    """A dump cut short, with SHA256SUMS made to agree: the checks pass, pg_restore fails after
    loading some of it. The instance must come back as it was, processes running."""
    pg = postgres
    name = "lbt-midway"
    port = serve_index.free_port()
    data.create(name, reqs[0], recipe(tmp_path), env=[f"PORT={port}"], database=True)
    d = data.dir(name)
    url = data.database_url(name)
    fill_var(d / "var", 9)
    fill_db(pg, url, 9, notes=6000)
    data.start(name)
    serving(port, "1.0")
    path = data.backup_path(data.backup(name), name)
    pg.psql(url, "INSERT INTO items (name) VALUES ('after the backup'); DELETE FROM notes WHERE k = 'k1'")
    write(d / "var" / "after-the-backup.txt", "new\n")
    (d / "var" / "uploads" / "a.txt").write_text("changed after the backup\n")
    before = instance_state(data, pg, name)

    cut = Path(shutil.copytree(path, tmp_path / "cut"))
    dump = (cut / "database.dump").read_bytes()
    (cut / "database.dump").write_bytes(dump[: len(dump) * 7 // 10])
    rewrite_sum(cut, "database.dump")
    run(["sha256sum", "--check", "--strict", "--quiet", "SHA256SUMS"], cwd=cut).ok()

    r = data.restore(name, cut, check=False)
    r.fails(1)
    assert_same_state(before, instance_state(data, pg, name), r)
    serving(port, "1.0")
    status = data.run("status", name, "--json").ok().json()
    assert [p["state"] for p in status["processes"]] == ["running"], status
    assert set(table_owners(pg, url).values()) == {"lb_lbt_midway"}


def test_restore_production_into_staging(data, reqs, tmp_path, postgres):
    pg = postgres
    for u in ("lb-lbt-prod", "lb-lbt-stage"):
        delete_user(u)
    p_port, s_port = serve_index.free_port(), serve_index.free_port()
    rec = recipe(tmp_path, environment={"PORT": "9", "GREETING": "hello"})  # PORT 9: only --env makes it work
    data.create("lbt-prod", reqs[1], rec, env=[f"PORT={p_port}"], user="", database=True)
    data.create("lbt-stage", reqs[0], rec, env=[f"PORT={s_port}"], user="", database=True)
    prod_pw, stage_pw = pwd.getpwnam("lb-lbt-prod"), pwd.getpwnam("lb-lbt-stage")
    prod, stage = data.dir("lbt-prod"), data.dir("lbt-stage")
    p_url, s_url = data.database_url("lbt-prod"), data.database_url("lbt-stage")
    fill_var(prod / "var", 11, owner=prod_pw)
    fill_db(pg, p_url, 11)
    write(stage / "var" / "staging-only.txt", "staging\n")
    os.chown(stage / "var" / "staging-only.txt", stage_pw.pw_uid, stage_pw.pw_gid)
    fill_db(pg, s_url, 12, rows=5, notes=5)
    pg.psql(s_url, "CREATE TABLE staging_only (x int)")
    data.start("lbt-prod")
    data.start("lbt-stage")
    serving(p_port, "2.0")
    serving(s_port, "1.0")

    prod_state = {"digest": data.live_digest("lbt-prod"), "var": tree(prod / "var"),
                  "rows": db_content(pg, p_url), "etc": (prod / "etc/environment").read_text()}
    stage_toml = (stage / "etc/instance.toml").read_bytes()
    stage_env = data.environment("lbt-stage")

    path = data.backup_path(data.backup("lbt-prod"), "lbt-prod")
    r = data.restore("lbt-stage", path)

    # staging: prod's env, var/ and rows; its own port, database, user and instance.toml
    assert data.live_digest("lbt-stage") == prod_state["digest"], "staging did not get prod's env"
    assert data.generations("lbt-stage")["live"] == 2
    assert re.search(r"generation\D{0,20}\b2\b|\b2\b\D{0,20}generation", r.output), \
        "restore does not say which generation is live\n" + r.describe()
    serving(s_port, "2.0")  # it was running: it runs again, from the restored generation
    assert get(s_port, "/env/PORT") == str(s_port), "staging lost its own PORT"
    assert get(s_port, "/env/DATABASE_URL") == s_url, "staging does not use its own database"
    assert get(s_port, "/whoami").strip() == str(stage_pw.pw_uid)
    now = data.environment("lbt-stage")
    assert now.pop("INSTANCE_GENERATION", "2") == "2", now
    stage_env.pop("INSTANCE_GENERATION", None)
    # VIRTUAL_ENV and PATH name the live generation's env: generation 2 now
    gen2 = str(stage / "generations" / "2" / "env")
    assert now.pop("VIRTUAL_ENV") == gen2 and now.pop("PATH").startswith(gen2 + "/bin:"), now
    stage_env.pop("VIRTUAL_ENV", None)
    stage_env.pop("PATH", None)
    assert now == stage_env, "restore changed staging's own etc/environment"
    assert (stage / "etc/instance.toml").read_bytes() == stage_toml, "restore changed staging's etc/instance.toml"
    same_tree(tree(stage / "var"), prod_state["var"], "staging's var/ after restore vs prod's")
    assert not not_owned_by(stage / "var", stage_pw.pw_uid, stage_pw.pw_gid), \
        f"restored var/ not owned by lb-lbt-stage: {not_owned_by(stage / 'var', stage_pw.pw_uid, stage_pw.pw_gid)[:5]}"
    rows = db_content(pg, s_url)
    assert {t: rows.get(t) for t in prod_state["rows"]} == prod_state["rows"], "staging's rows are not prod's"
    assert set(table_owners(pg, s_url).values()) == {"lb_lbt_stage"}, table_owners(pg, s_url)
    assert pg.psql(s_url, "INSERT INTO items (name) VALUES ('staging write') RETURNING id") == "302"

    # production untouched
    serving(p_port, "2.0")
    assert get(p_port, "/env/PORT") == str(p_port)
    assert tree(prod / "var") == prod_state["var"]
    assert db_content(pg, p_url) == prod_state["rows"]
    assert (prod / "etc/environment").read_text() == prod_state["etc"]
    assert "staging write" not in pg.psql(p_url, "SELECT string_agg(name, ',') FROM items")

    # a backup of an instance with a user verifies too (its scratch instance removed)
    dbs, roles = pg.databases(), pg.roles()
    v = data.backup("lbt-prod", "--verify")
    assert "backup verified" in v.output, v.describe()
    assert data.names() == {"lbt-prod", "lbt-stage"}
    assert pg.databases() == dbs and pg.roles() == roles

    # last (the checks above say more when it fails): the restore replaced staging's database
    # content, so what only staging had is gone
    assert set(rows) == set(prod_state["rows"]), \
        f"staging's tables that are not in prod's dump survived: {sorted(set(rows) - set(prod_state['rows']))}"
