"""Progress output (issue 7 B6): on a terminal one status line redrawn in place (what
resolution fetches, downloads with bytes, rate and time left, then the step bar) with colour;
NO_COLOR and TERM=dumb honoured; plain lines when stderr is not a terminal; -q prints only
warnings and errors. Output starts at once, before the first download finishes.

The terminal cases run lavabuild with stderr on a pseudo-terminal (Python's pty module) set
raw, so the bytes read are lavabuild's own (no \\n -> \\r\\n translation)."""
from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
import tty
from pathlib import Path

import pytest
from lbtest import incompressible_wheel, TOOLS, write

sys.path.insert(0, str(Path(__file__).resolve().parent))
from faultserver import FaultServer  # noqa: E402

ESC = re.compile(rb"\x1b")
COLOUR = re.compile(rb"\x1b\[[0-9;]*m")
# "downloading 2 files: 0.1/0.4 MB, 80.2 kB/s, 3s left"
DOWNLOAD_LINE = re.compile(rb"downloading \d+ files?: [\d.]+/[\d.]+ [kMG]?B, [\d.]+ [kMG]?B/s, \d+[hms](?:\d+[ms])? left")
TRICKLE_S = 0.03  # slowfile: 4 KiB per TRICKLE_S: the 256 KiB wheel takes about 2 s


@pytest.fixture
def slow_wheel(tmp_path) -> Path:
    """slowpkg-1.0: 256 KiB of incompressible bytes, so the wheel is as large on the wire."""
    return incompressible_wheel(tmp_path / "wheels", "slowpkg", 1 << 18, 11)


@pytest.fixture
def slow_server(slow_wheel):
    with FaultServer(slow_wheel, trickle_s=TRICKLE_S) as srv:
        yield srv


def on_terminal(lb, *args, env: dict | None = None, timeout: float = 120):
    """Run lavabuild with stderr on a pty: (exit code, stdout, stderr bytes, seconds)."""
    master, slave = pty.openpty()
    tty.setraw(slave)
    environ = dict(lb.environ)
    environ.pop("NO_COLOR", None)
    environ["TERM"] = "xterm-256color"
    environ.update(env or {})
    start = time.monotonic()
    p = subprocess.Popen(lb.argv(*args), env=environ, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    err = b""
    try:
        while True:
            left = start + timeout - time.monotonic()
            assert left > 0, "lavabuild did not finish in time:\n" + err.decode(errors="replace")
            ready, _, _ = select.select([master], [], [], left)
            if not ready:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every writer closed the pty
                break
            if not data:
                break
            err += data
        out = p.stdout.read().decode()
        p.wait(timeout=30)
    finally:
        os.close(master)
        if p.poll() is None:
            p.kill()
    return p.returncode, out, err, time.monotonic() - start


def describe(rc, err: bytes) -> str:
    return f"exit {rc}\n--- stderr (repr) ---\n{err[-6000:]!r}"


def slow_requirements(tmp_path) -> Path:
    return write(tmp_path / "req.txt", "alpha\nslowpkg\n")


def test_terminal_shows_downloads_redrawn_in_place_with_colour(lb, basic, slow_server, tmp_path):
    rc, _, err, seconds = on_terminal(lb, "env", slow_requirements(tmp_path), "-o", tmp_path / "env",
                                      "-i", basic.index_url,
                                      "--extra-index-url", slow_server.index_url("slowfile"))
    assert rc == 0, describe(rc, err)
    assert DOWNLOAD_LINE.search(err), "no download line with bytes, rate and time left\n" + describe(rc, err)
    assert b"resolving" in err, describe(rc, err)
    assert re.search(rb"\r\x1b\[K\[[#.\x1b\[0-9;m]+\] \d+/\d+ ", err), "no step bar\n" + describe(rc, err)
    redraws = err.count(b"\r\x1b[K")
    assert redraws >= 5, describe(rc, err)
    # At most ~10 redraws a second (and one clear around each printed line).
    assert redraws <= 12 * seconds + 20, f"{redraws} redraws in {seconds:.1f} s\n" + describe(rc, err)
    assert COLOUR.search(err), "no colour on a terminal\n" + describe(rc, err)
    assert b"\x1b[1;32m" in err and b"packages in" in err, describe(rc, err)
    assert b"fetched " not in err, "plain lines on a terminal\n" + describe(rc, err)
    # The status line is cleared at the end: the summary is the last line, alone.
    tail = err.rsplit(b"\r\x1b[K", 1)[1]
    assert tail.startswith(b"\x1b[1;32m") and tail.endswith(b"\x1b[0m\n") and tail.count(b"\n") == 1, \
        describe(rc, err)
    assert re.search(rb"\d+s left", err), "the time left was cut off\n" + describe(rc, err)


@pytest.mark.parametrize("value", ["1", "yes"])
def test_no_color_keeps_the_status_line_without_colour(lb, basic, tmp_path, value):
    req = write(tmp_path / "req.txt", "alpha\nbeta\n")
    rc, _, err, _ = on_terminal(lb, "env", req, "-o", tmp_path / "env", "-i", basic.index_url,
                                env={"NO_COLOR": value})
    assert rc == 0, describe(rc, err)
    assert not COLOUR.search(err), describe(rc, err)
    assert b"\r\x1b[K" in err, "the status line is still drawn\n" + describe(rc, err)


def test_empty_no_color_is_unset(lb, basic, tmp_path):
    req = write(tmp_path / "req.txt", "alpha\n")
    rc, _, err, _ = on_terminal(lb, "env", req, "-o", tmp_path / "env", "-i", basic.index_url,
                                env={"NO_COLOR": ""})
    assert rc == 0, describe(rc, err)
    assert COLOUR.search(err), "NO_COLOR= (empty) must not disable colour\n" + describe(rc, err)


def test_dumb_terminal_gets_plain_lines(lb, basic, tmp_path):
    req = write(tmp_path / "req.txt", "alpha\nbeta\n")
    rc, _, err, _ = on_terminal(lb, "env", req, "-o", tmp_path / "env", "-i", basic.index_url,
                                env={"TERM": "dumb"})
    assert rc == 0, describe(rc, err)
    assert b"\r" not in err and not ESC.search(err), describe(rc, err)
    text = err.decode()
    assert re.search(r"^resolving 2 requirements from http://127\.0\.0\.1:\d+/basic/simple$", text, re.M), text
    assert re.search(r"^fetched alpha-[^ ]+\.whl \(\d[\d.]* k?B\)$", text, re.M), text
    assert re.search(r"^link alpha \S+$", text, re.M), text


def test_not_a_terminal_output_starts_at_once_in_plain_lines(lb, basic, slow_server, tmp_path):
    p = lb.popen("env", slow_requirements(tmp_path), "-o", tmp_path / "env", "-i", basic.index_url,
                 "--extra-index-url", slow_server.index_url("slowfile"))
    start = time.monotonic()
    lines = []  # (seconds since start, line)
    for line in p.stderr:
        lines.append((time.monotonic() - start, line.rstrip("\n")))
    p.wait(timeout=120)
    text = "\n".join(line for _, line in lines)
    assert p.returncode == 0, text
    assert "\r" not in text and "\x1b" not in text, repr(text)
    first_at, first = lines[0]
    assert re.fullmatch(r"resolving 2 requirements from http://127\.0\.0\.1:\d+/basic/simple and 1 more",
                        first), text
    fetched = [(t, line) for t, line in lines if line.startswith("fetched slowpkg-1.0-")]
    assert len(fetched) == 1 and re.fullmatch(r"fetched slowpkg-1\.0-py3-none-any\.whl \(2\d\d kB\)",
                                              fetched[0][1]), text
    # The wheel alone takes 64 chunks * TRICKLE_S: the first line came well before it was in.
    assert fetched[0][0] - first_at > 1.0, f"first line at {first_at:.2f} s, wheel at {fetched[0][0]:.2f} s"
    # alpha came in with slowpkg (parallel transfers) and is said when it was in, not after.
    alpha = [t for t, line in lines if re.fullmatch(r"fetched alpha-\S+\.whl \(\d[\d.]* k?B\)", line)]
    assert len(alpha) == 1 and alpha[0] < fetched[0][0] - 0.5, text
    for kind in ("fetch", "unpack", "link"):
        assert re.search(rf"^{kind} slowpkg 1\.0$", text, re.M), text
    assert re.search(r"^6 packages in .*: \d+ steps run", text, re.M), text


def test_quiet_prints_nothing_on_success(lb, basic, tmp_path):
    req = write(tmp_path / "req.txt", "alpha\nbeta\n")
    r = lb.run("env", req, "-o", tmp_path / "env", "-i", basic.index_url, "-q").ok()
    assert r.stderr == "" and r.stdout == "", r.describe()
    again = lb.run("env", req, "-o", tmp_path / "env", "-i", basic.index_url, "--quiet").ok()
    assert again.stderr == "" and again.stdout == "", again.describe()
    j = lb.run("env", req, "-o", tmp_path / "env2", "-i", basic.index_url, "-q", "--json").ok()
    assert j.stderr == "", j.describe()
    assert {p["name"] for p in j.json()["packages"]} >= {"alpha", "beta"}, j.describe()
    lock = lb.run("lock", req, "-o", tmp_path / "pylock.toml", "-i", basic.index_url, "-q").ok()
    assert lock.stderr == "", lock.describe()
    plan = lb.run("plan", req, "-i", basic.index_url, "-q").ok()
    assert plan.stderr == "" and plan.stdout, plan.describe()


def test_quiet_on_a_terminal_is_quiet_too(lb, basic, tmp_path):
    req = write(tmp_path / "req.txt", "alpha\n")
    rc, _, err, _ = on_terminal(lb, "env", req, "-o", tmp_path / "env", "-i", basic.index_url, "-q")
    assert rc == 0 and err == b"", describe(rc, err)


def test_quiet_still_prints_the_error(lb, basic, tmp_path):
    req = write(tmp_path / "req.txt", "doesnotexist\n")
    r = lb.run("env", req, "-o", tmp_path / "env", "-i", basic.index_url, "-q").fails(1)
    assert r.stderr.startswith("error: ") and "doesnotexist" in r.stderr, r.describe()
    rc, _, err, _ = on_terminal(lb, "env", req, "-o", tmp_path / "env", "-i", basic.index_url, "-q")
    assert rc == 1 and b"\x1b[1;31merror:\x1b[0m" in err and b"doesnotexist" in err, describe(rc, err)


def test_quiet_and_verbose_exclude_each_other(lb, tmp_path):
    req = write(tmp_path / "req.txt", "alpha\n")
    r = lb.run("env", req, "-q", "-v").fails(2)
    assert "-q/--quiet" in r.stderr, r.describe()


@pytest.mark.parametrize("command", ["env", "plan", "lock"])
def test_help_lists_quiet_and_no_color(lb, command):
    out = lb.run(command, "--help").ok().stdout
    assert "-q [ --quiet ]" in out and "NO_COLOR" in out, out
