"""Session fixtures for the black-box tests of the lavabuild binary.

Env vars: LAVABUILD_BIN (default <repo>/build/lavabuild), LAVABUILD_TEST_PYTHON
(default /usr/bin/python3). Fixtures are generated once per session with
tools/make_fixtures.py and served by a real nginx on 127.0.0.1.
"""
from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lbtest import TOOLS, Lavabuild, clean_environ, ensure_system_user, missing_prerequisite  # noqa: E402

sys.path.insert(0, str(TOOLS))
import serve_index  # noqa: E402

BIN = os.environ.get("LAVABUILD_BIN", os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "build", "lavabuild") if "tools" in __file__ else os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "build", "lavabuild"))
TEST_PYTHON = os.environ.get("LAVABUILD_TEST_PYTHON", "/usr/bin/python3")

# Nothing may reach the internet: no proxies for us or any child (children get `environ`).
for _k in [k for k in os.environ if k.lower() in ("http_proxy", "https_proxy", "all_proxy", "ftp_proxy")]:
    del os.environ[_k]
os.environ["no_proxy"] = os.environ["NO_PROXY"] = "127.0.0.1,localhost"
CORPORA = ("basic", "versions", "hostile", "sources", "instances")


class Corpus:
    """Paths and URLs of one generated corpus served by nginx."""

    def __init__(self, root: Path, name: str, nginx):
        self.name, self.root = name, root / name
        self.files = self.root / "files"
        self.nginx = nginx

    @property
    def index_url(self) -> str:
        return self.nginx.url(f"/{self.name}/simple")

    @property
    def files_url(self) -> str:
        return self.nginx.url(f"/{self.name}/files/")

    def wheel(self, prefix: str) -> Path:
        found = sorted(self.files.glob(prefix + "*.whl"))
        assert found, f"no wheel {prefix}* in {self.files}"
        return found[0]


@pytest.fixture(scope="session")
def lavabuild_bin() -> str:
    if not (os.path.isfile(BIN) and os.access(BIN, os.X_OK)):
        missing_prerequisite(f"lavabuild binary not found at {BIN} (set LAVABUILD_BIN)")
    return BIN


@pytest.fixture(scope="session")
def test_python() -> str:
    return TEST_PYTHON


@pytest.fixture(scope="session")
def native_tag(test_python) -> str:
    code = ("import sys, sysconfig; v='%d%d' % sys.version_info[:2]; "
            "print('cp%s-cp%s-%s' % (v, v, sysconfig.get_platform().replace('-', '_').replace('.', '_')))")
    return subprocess.run([test_python, "-c", code], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="session")
def served_root(tmp_path_factory, native_tag) -> Path:
    root = tmp_path_factory.mktemp("served")
    for name in CORPORA:
        subprocess.run([sys.executable, str(TOOLS / "make_fixtures.py"), "--out", str(root / name / "files"),
                        name, "--index", str(root / name), "--native-tag", native_tag], check=True)
    return root


@pytest.fixture(scope="session")
def nginx(served_root):
    if not os.access(serve_index.NGINX, os.X_OK):
        missing_prerequisite(f"nginx not found at {serve_index.NGINX} (set LAVABUILD_NGINX)")
    with serve_index.Nginx(str(served_root)) as n:
        yield n


@pytest.fixture(scope="session")
def basic(served_root, nginx) -> Corpus:
    return Corpus(served_root, "basic", nginx)


@pytest.fixture(scope="session")
def versions(served_root, nginx) -> Corpus:
    return Corpus(served_root, "versions", nginx)


@pytest.fixture(scope="session")
def hostile(served_root, nginx) -> Corpus:
    return Corpus(served_root, "hostile", nginx)


@pytest.fixture(scope="session")
def sources(served_root, nginx) -> Corpus:
    """Build backends (Debian's setuptools and wheel), webapp wheels, sdists, and project trees
    in `sources.root / "projects"` (copy one before using it: tests edit them)."""
    return Corpus(served_root, "sources", nginx)


@pytest.fixture(scope="session")
def instances(served_root, nginx) -> Corpus:
    """Services for `lavabuild instance`: webserve 1.0 and 2.0 (HTTP on $PORT), webtools 1.0,
    crashy 1.0 (exits 1 at once)."""
    return Corpus(served_root, "instances", nginx)


PG_BIN = Path(os.environ.get("LAVABUILD_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_OS_USER = "lbtest-pg"     # initdb and the server refuse root: they run as this system user
PG_ADMIN = "lbtest_admin"    # the cluster's superuser


class Postgres:
    """A private PostgreSQL cluster (Debian's postgresql-15) on 127.0.0.1 and a socket directory.

    Local (socket) connections are trusted; TCP connections need a password (scram-sha-256),
    so a DATABASE_URL's password is proven by connecting over TCP with it."""

    def __init__(self, base: Path, port: int, password: str):
        self.base, self.port, self.password = base, port, password
        self.user = PG_ADMIN
        self.data, self.sockdir, self.log = base / "data", base / "sock", base / "server.log"

    @property
    def host(self) -> str:
        """The socket directory (PGHOST)."""
        return str(self.sockdir)

    def environ(self) -> dict:
        """libpq's variables that reach the cluster as its superuser (for lavabuild runs)."""
        return {"PGHOST": self.host, "PGPORT": str(self.port), "PGUSER": self.user}

    def admin_url(self, with_password: bool = False) -> str:
        """The superuser over TCP (a --db-admin URL; its password goes in PGPASSWORD, unless
        with_password puts it in the URL, which lavabuild refuses)."""
        secret = f":{self.password}" if with_password else ""
        return f"postgresql://{self.user}{secret}@127.0.0.1:{self.port}/postgres"

    def client_environ(self) -> dict:
        env = {k: v for k, v in clean_environ().items() if not k.startswith("PG")}
        env.update(self.environ())
        return env

    def psql(self, db: str, sql: str, check: bool = True):
        """`psql -X -q -At -v ON_ERROR_STOP=1` as root with environ() (-q: no command tags such
        as "INSERT 0 1" beside the rows): `db` is a database name or a connection URL (which wins
        over the variables). Its stdout, stripped; with check=False, the Run."""
        from lbtest import run
        r = run([PG_BIN / "psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql],
                env=self.client_environ(), timeout=120)
        if not check:
            return r
        r.ok()
        return r.stdout.strip()

    def databases(self) -> set:
        return set(self.psql("postgres", "SELECT datname FROM pg_database").splitlines())

    def roles(self) -> set:
        return set(self.psql("postgres", "SELECT rolname FROM pg_roles").splitlines())


def _as_pg_user(args, uid: int, gid: int, base: Path, timeout=120):
    env = {"PATH": "/usr/bin:/bin", "LANG": "C", "HOME": str(base)}
    return subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={gid}", "--init-groups", *map(str, args)],
                          env=env, cwd="/", stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL 15 cluster of its own for the session (initdb as an unprivileged user,
    fsync off, 127.0.0.1 and a socket directory on a free port); stopped with `-m immediate`."""
    for prog in ("initdb", "pg_ctl", "psql", "pg_dump", "pg_restore"):
        if not os.access(PG_BIN / prog, os.X_OK):
            missing_prerequisite(f"{PG_BIN / prog} not found (apt-get install postgresql)")
    if os.geteuid() != 0:
        missing_prerequisite("the postgres fixture needs root (useradd, setpriv)")
    pw = ensure_system_user(PG_OS_USER)
    base = Path(tempfile.mkdtemp(prefix="lbtest-pg-"))
    os.chmod(base, 0o755)  # the instances' users reach the socket directory through it
    os.chown(base, pw.pw_uid, pw.pw_gid)
    password = secrets.token_hex(12)
    pg = Postgres(base, serve_index.free_port(), password)
    pwfile = base / "pwfile"
    pwfile.write_text(password + "\n")
    os.chown(pwfile, pw.pw_uid, pw.pw_gid)
    for d in (pg.data, pg.sockdir):
        d.mkdir()
        os.chown(d, pw.pw_uid, pw.pw_gid)
    os.chmod(pg.data, 0o700)
    os.chmod(pg.sockdir, 0o755)
    started = False
    try:
        r = _as_pg_user([PG_BIN / "initdb", "-D", pg.data, "--auth-local=trust", "--auth-host=scram-sha-256",
                         "--no-sync", "-U", PG_ADMIN, f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C"],
                        pw.pw_uid, pw.pw_gid, base)
        assert r.returncode == 0, f"initdb failed ({r.returncode}):\n{r.stdout}"
        opts = f"-c fsync=off -c listen_addresses=127.0.0.1 -p {pg.port} -k {pg.sockdir}"
        r = _as_pg_user([PG_BIN / "pg_ctl", "-D", pg.data, "-l", pg.log, "-w", "-t", "60", "-s", "-o", opts, "start"],
                        pw.pw_uid, pw.pw_gid, base)
        started = True
        log = pg.log.read_text(errors="replace") if pg.log.exists() else ""
        assert r.returncode == 0, f"pg_ctl start failed ({r.returncode}):\n{r.stdout}\n{log[-3000:]}"
        assert pg.psql("postgres", "SELECT current_user") == PG_ADMIN
        yield pg
    finally:
        if started:
            _as_pg_user([PG_BIN / "pg_ctl", "-D", pg.data, "-m", "immediate", "-w", "-s", "stop"],
                        pw.pw_uid, pw.pw_gid, base)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def closed_port_url() -> str:
    return f"http://127.0.0.1:{serve_index.closed_port()}/simple"


@pytest.fixture
def environ(tmp_path) -> dict:
    env = clean_environ()
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg-cache")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg-config")
    return env


@pytest.fixture
def cache_dir(tmp_path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def lb(lavabuild_bin, test_python, cache_dir, environ) -> Lavabuild:
    return Lavabuild(lavabuild_bin, test_python, cache_dir, environ)


def pytest_terminal_summary(terminalreporter):
    from lbtest import INSTANCE_STATS
    for line in INSTANCE_STATS.get("lines", []):
        terminalreporter.write_line(line)
    from lbtest import RESOLVER_STATS as s
    if s.get("compared"):
        terminalreporter.write_line(
            f"resolver diff: {s['compared']} seeds compared, {s.get('same', 0)} identical to pip's choice, "
            f"{s.get('unsolvable', 0)} unsolvable for both, {s.get('pep440_prerelease', 0)} solved only under "
            f"PEP 440's pre-release rule (pip 23 needs --pre there)")
