"""Upgrades (issue 7, B2): a re-run keeps the existing pins; -U and -P move them; what moved is
named on stderr and in --json, for `env` and `lock`.

The `versions` corpus has vpkg 1.0 and 1.1 as its newest allowed releases (1.2 is yanked,
1.3 needs Python 4, 2.0b1 is a pre-release) and vdep 1.0, which requires vpkg>=1.0,<2.
"""
from __future__ import annotations

import tomllib

from lbtest import write


def pins(report) -> dict:
    return {p["name"]: p["version"] for p in report["packages"]}


def old_env(lb, versions, tmp_path):
    """An env with vpkg 1.0 (held there by a constraint) and vdep; then the requirements alone."""
    req = write(tmp_path / "req.txt", "vpkg\nvdep\n")
    con = write(tmp_path / "con.txt", "vpkg==1.0\n")
    env = tmp_path / "env"
    first = lb.env_json(req, "-c", con, "-o", env, "-i", versions.index_url)
    assert pins(first) == {"vpkg": "1.0", "vdep": "1.0"}
    assert {p["name"] for p in first["added"]} == {"vpkg", "vdep"}
    assert first["removed"] == [] and first["changed"] == []
    return req, env


def test_env_rerun_keeps_pins_and_P_moves_one(lb, versions, tmp_path):
    req, env = old_env(lb, versions, tmp_path)
    # Without the constraint the inputs differ, but the env's pin is kept.
    kept = lb.run("env", req, "-o", env, "-i", versions.index_url, "--json").ok()
    data = kept.json()
    assert pins(data) == {"vpkg": "1.0", "vdep": "1.0"}, kept.describe()
    assert data["changed"] == [] and data["removed"] == [] and data["added"] == []
    assert "~ " not in kept.stderr and "- " not in kept.stderr, kept.describe()
    # Same inputs: the no-op path, nothing resolved.
    again = lb.env_json(req, "-o", env, "-i", versions.index_url)
    assert again["executed"] == [] and pins(again) == {"vpkg": "1.0", "vdep": "1.0"}

    # -P with an unnormalised spelling of the name (PEP 503): only vpkg moves.
    up = lb.run("env", req, "-o", env, "-i", versions.index_url, "-P", "VPkg", "--json").ok()
    data = up.json()
    assert pins(data) == {"vpkg": "1.1", "vdep": "1.0"}, up.describe()
    assert data["changed"] == [{"name": "vpkg", "from": "1.0", "to": "1.1"}]
    assert data["removed"] == [] and data["added"] == []
    assert "~ vpkg 1.0 -> 1.1" in up.stderr.splitlines(), up.describe()
    assert any(e["package"] == "vpkg" for e in data["executed"]), data["executed"]
    assert (env / ".lavabuild").is_dir()
    assert list(env.glob("lib/python3*/site-packages/vpkg-1.1.dist-info"))

    # Upgrading again finds nothing newer: the env is left as it is.
    stamp = env / ".lavabuild" / "stamp"
    before = (stamp.stat().st_ino, stamp.stat().st_mtime_ns)
    same = lb.run("env", req, "-o", env, "-i", versions.index_url, "-U", "--json").ok()
    data = same.json()
    assert data["executed"] == [] and data["changed"] == [] and data["removed"] == [], same.describe()
    assert pins(data) == {"vpkg": "1.1", "vdep": "1.0"}
    assert (stamp.stat().st_ino, stamp.stat().st_mtime_ns) == before, "an upgrade with no change rebuilt the env"


def test_env_U_moves_everything(lb, versions, tmp_path):
    req, env = old_env(lb, versions, tmp_path)
    up = lb.run("env", req, "-o", env, "-i", versions.index_url, "--upgrade").ok()
    assert "~ vpkg 1.0 -> 1.1" in up.stderr.splitlines(), up.describe()
    data = lb.env_json(req, "-o", env, "-i", versions.index_url)  # and it stays there
    assert pins(data) == {"vpkg": "1.1", "vdep": "1.0"} and data["executed"] == []


def test_env_upgrade_on_unchanged_inputs_is_not_a_noop(lb, versions, tmp_path):
    """Same inputs as the env was built from, yet -P resolves again (the stamp alone says
    nothing about newer releases on the index)."""
    req = write(tmp_path / "req.txt", "vpkg\n")
    env = tmp_path / "env"
    # Built against a find-links directory holding only vpkg 1.0, then the index is the source
    # (a different input: the pin of the env is kept), then upgraded on the same inputs.
    links = tmp_path / "links"
    links.mkdir()
    (links / versions.wheel("vpkg-1.0-").name).write_bytes(versions.wheel("vpkg-1.0-").read_bytes())
    assert pins(lb.env_json(req, "-o", env, "--no-index", "-f", links)) == {"vpkg": "1.0"}
    kept = lb.env_json(req, "-o", env, "-i", versions.index_url)
    assert pins(kept) == {"vpkg": "1.0"}
    noop = lb.env_json(req, "-o", env, "-i", versions.index_url)
    assert noop["executed"] == []
    up = lb.run("env", req, "-o", env, "-i", versions.index_url, "--upgrade-package", "vpkg", "--json").ok()
    assert up.json()["changed"] == [{"name": "vpkg", "from": "1.0", "to": "1.1"}], up.describe()
    assert "~ vpkg 1.0 -> 1.1" in up.stderr.splitlines()


def test_env_removed_requirement_is_named(lb, versions, tmp_path):
    req, env = old_env(lb, versions, tmp_path)
    write(req, "vpkg\n")
    r = lb.run("env", req, "-o", env, "-i", versions.index_url, "--json").ok()
    data = r.json()
    assert data["removed"] == [{"name": "vdep", "version": "1.0"}], r.describe()
    assert data["changed"] == [] and pins(data) == {"vpkg": "1.0"}
    assert "- vdep 1.0" in r.stderr.splitlines(), r.describe()
    write(req, "vpkg\nvdep\n")
    r = lb.run("env", req, "-o", env, "-i", versions.index_url, "--json").ok()
    assert r.json()["added"] == [{"name": "vdep", "version": "1.0"}], r.describe()
    assert "+ vdep 1.0" in r.stderr.splitlines(), r.describe()


def locked(path) -> dict:
    return {p["name"]: p["version"] for p in tomllib.loads(path.read_text())["packages"]}


def test_lock_keeps_pins_and_upgrades(lb, versions, tmp_path):
    req = write(tmp_path / "req.txt", "vpkg\nvdep\n")
    con = write(tmp_path / "con.txt", "vpkg==1.0\n")
    out = tmp_path / "pylock.toml"
    idx = ("-i", versions.index_url)
    first = lb.run("lock", req, "-c", con, "-o", out, *idx, "--json").ok()
    assert locked(out) == {"vpkg": "1.0", "vdep": "1.0"}, first.describe()
    assert first.json()["changed"] == [] and first.json()["removed"] == []

    kept = lb.run("lock", req, "-o", out, *idx, "--json").ok()
    assert locked(out) == {"vpkg": "1.0", "vdep": "1.0"}, kept.describe()
    assert kept.json()["changed"] == [] and kept.json()["added"] == []
    assert "~ " not in kept.stderr

    moved = lb.run("lock", req, "-o", out, *idx, "-P", "VPKG", "--json").ok()
    assert locked(out) == {"vpkg": "1.1", "vdep": "1.0"}, moved.describe()
    assert moved.json()["changed"] == [{"name": "vpkg", "from": "1.0", "to": "1.1"}]
    assert "~ vpkg 1.0 -> 1.1" in moved.stderr.splitlines(), moved.describe()

    # -U from a lock pinned at 1.0 again.
    lb.run("lock", req, "-c", con, "-o", out, *idx).ok()
    assert locked(out)["vpkg"] == "1.0"
    up = lb.run("lock", req, "-o", out, *idx, "-U").ok()
    assert locked(out)["vpkg"] == "1.1" and "~ vpkg 1.0 -> 1.1" in up.stderr.splitlines(), up.describe()

    write(req, "vpkg\n")
    gone = lb.run("lock", req, "-o", out, *idx, "--json").ok()
    assert locked(out) == {"vpkg": "1.1"}, gone.describe()
    assert gone.json()["removed"] == [{"name": "vdep", "version": "1.0"}]
    assert "- vdep 1.0" in gone.stderr.splitlines(), gone.describe()
