"""Session fixtures for the black-box tests of the lavabuild binary.

Env vars: LAVABUILD_BIN (default <repo>/build/lavabuild), LAVABUILD_TEST_PYTHON
(default /usr/bin/python3). Fixtures are generated once per session with
tools/make_fixtures.py and served by a real nginx on 127.0.0.1.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lbtest import TOOLS, Lavabuild, clean_environ, missing_prerequisite  # noqa: E402

sys.path.insert(0, str(TOOLS))
import serve_index  # noqa: E402

BIN = os.environ.get("LAVABUILD_BIN", os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "build", "lavabuild") if "tools" in __file__ else os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "build", "lavabuild"))
TEST_PYTHON = os.environ.get("LAVABUILD_TEST_PYTHON", "/usr/bin/python3")

# Nothing may reach the internet: no proxies for us or any child (children get `environ`).
for _k in [k for k in os.environ if k.lower() in ("http_proxy", "https_proxy", "all_proxy", "ftp_proxy")]:
    del os.environ[_k]
os.environ["no_proxy"] = os.environ["NO_PROXY"] = "127.0.0.1,localhost"
CORPORA = ("basic", "versions", "hostile", "sources")


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
    from lbtest import RESOLVER_STATS as s
    if s.get("compared"):
        terminalreporter.write_line(
            f"resolver diff: {s['compared']} seeds compared, {s.get('same', 0)} identical to pip's choice, "
            f"{s.get('unsolvable', 0)} unsolvable for both, {s.get('pep440_prerelease', 0)} solved only under "
            f"PEP 440's pre-release rule (pip 23 needs --pre there)")
