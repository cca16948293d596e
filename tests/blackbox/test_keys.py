"""`lavabuild cache keygen`: the key pair that signs remote cache entries (src/remote/sign.hpp).
Files with the right modes and formats (checked against an independent Ed25519), never an
overwrite, and its own --help."""
from __future__ import annotations

import base64
import os
import re
import stat

import pytest

KEY_LINE = re.compile(r"^([A-Za-z0-9._-]{1,128}):([A-Za-z0-9+/]+={0,2})\n$")


def keygen(lb, tmp_path, name="ci.example.org-1", sec="ci.sec", pub="ci.pub"):
    return lb.run("cache", "keygen", "--name", name, "--secret-key", tmp_path / sec,
                  "--public-key", tmp_path / pub)


def mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_keygen_writes_a_key_pair(lb, tmp_path):
    r = keygen(lb, tmp_path).ok()
    sec, pub = tmp_path / "ci.sec", tmp_path / "ci.pub"
    assert mode(sec) == 0o600, oct(mode(sec))
    assert mode(pub) == 0o644, oct(mode(pub))
    sec_m, pub_m = KEY_LINE.match(sec.read_text()), KEY_LINE.match(pub.read_text())
    assert sec_m and pub_m, (sec.read_text(), pub.read_text())
    assert sec_m.group(1) == pub_m.group(1) == "ci.example.org-1"
    seed, key = base64.b64decode(sec_m.group(2), validate=True), base64.b64decode(pub_m.group(2), validate=True)
    assert len(seed) == 32 and len(key) == 32
    # The public key line is what a client pastes into remote.trusted-keys: on stdout alone.
    assert r.stdout == pub.read_text(), r.describe()
    assert str(sec) in r.stderr and str(pub) in r.stderr, r.describe()
    # The public key is the Ed25519 public key of the seed (RFC 8032), by another implementation.
    ed25519 = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.ed25519")
    serialization = pytest.importorskip("cryptography.hazmat.primitives.serialization")
    derived = ed25519.Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert derived == key


def test_keygen_makes_a_new_key_each_time(lb, tmp_path):
    keygen(lb, tmp_path, sec="a.sec", pub="a.pub").ok()
    keygen(lb, tmp_path, sec="b.sec", pub="b.pub").ok()
    assert (tmp_path / "a.sec").read_text() != (tmp_path / "b.sec").read_text()


def test_keygen_never_overwrites(lb, tmp_path):
    keygen(lb, tmp_path).ok()
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    r = keygen(lb, tmp_path).fails(1)
    assert str(tmp_path / "ci.sec") in r.stderr and "already exists" in r.stderr, r.describe()
    assert r.stdout == ""
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    # Only the public file exists: refused as well, and no secret key is left behind.
    r = keygen(lb, tmp_path, sec="new.sec").fails(1)
    assert str(tmp_path / "ci.pub") in r.stderr, r.describe()
    assert not (tmp_path / "new.sec").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ci.pub", "ci.sec"]  # no temp files


def test_keygen_refuses_a_bad_name(lb, tmp_path):
    for bad in ["", "a b", "a:b", "x" * 129]:
        r = keygen(lb, tmp_path, name=bad)
        assert r.returncode != 0, r.describe()
        assert "name" in r.stderr, r.describe()
    assert list(tmp_path.iterdir()) == []


def test_keygen_needs_its_options(lb, tmp_path):
    r = lb.run("cache", "keygen", "--name", "k", "--secret-key", tmp_path / "k.sec").fails(2)
    assert "--public-key" in r.stderr, r.describe()
    assert list(tmp_path.iterdir()) == []


def test_keygen_help_shows_its_options(lb):
    r = lb.run("cache", "keygen", "--help").ok()
    assert r.stdout.startswith("usage: lavabuild cache keygen"), r.describe()
    opts = set(re.findall(r"--[a-z][a-z-]+", r.stdout.split("environment:")[0]))
    assert {"--name", "--secret-key", "--public-key"} <= opts, r.stdout
    assert not {"--repair", "--max-size", "--index-url"} & opts, r.stdout
    cache = lb.run("cache", "--help").ok().stdout
    assert "keygen" in cache and "--secret-key" in cache
    assert "cache keygen" in lb.run("--help").ok().stdout


def test_mistyped_cache_action_gets_a_suggestion(lb):
    r = lb.run("cache", "keygn").fails(2)
    assert "did you mean 'keygen'?" in r.stderr, r.describe()
