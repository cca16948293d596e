"""Kills, tampering and resource faults must never corrupt the store or an env (issue 6):
leftovers of dead runs are removed (and only theirs), a store file edited in place is never
linked again, `cache verify --repair` repairs, an env with a deleted or edited file is repaired
by the next run, a read-only cache serves offline installs, and a full disk leaves nothing
half-written in the store."""
from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
from pathlib import Path

import pytest
from lbtest import file_sha, run, site_packages, write

EMPTY_SHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
REQS = "delta==0.5\nzeta\n"


def build(lb, basic, tmp_path, target, reqs=REQS, *extra, name="req.txt"):
    req = write(tmp_path / name, reqs)
    return lb.run("env", req, "-o", target, "--no-index", "-f", basic.files, *extra).ok()


def need_root():
    if os.geteuid() != 0:
        pytest.fail("this test mounts file systems and needs root (CI runs as root)")


@contextlib.contextmanager
def mounted(*mount_args, target: Path):
    need_root()
    target.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", *mount_args, str(target)], check=True)
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)


def make_dead_dir(path: Path, payload: bytes = b"x" * 1000) -> Path:
    """What a killed run leaves: a temp directory nobody holds a lock on."""
    path.mkdir()
    (path / "partial").write_bytes(payload)
    return path


# ------------------------------------------------------------------ leftovers
def test_leftovers_of_dead_runs_are_counted_then_removed_live_ones_kept(lb, basic, tmp_path):
    target = tmp_path / "env"
    build(lb, basic, tmp_path, target)
    dead_env = make_dead_dir(tmp_path / "env.tmp-00000000deadbeef")
    dead_store = make_dead_dir(lb.cache_dir / "tmp" / "run.tmp-00000000deadbeef", b"y" * 5000)
    # A live run's temp dir: its owner holds an flock on the directory.
    live = make_dead_dir(tmp_path / "env.tmp-11111111cafef00d")
    fd = os.open(live, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        stats = lb.run("cache", "stats", "--json").ok().json()
        assert stats["leftovers"] == 2, stats
        assert stats["leftover_bytes"] == 6000, stats
        assert dead_env.exists() and dead_store.exists(), "cache stats must only count, not remove"
        r = build(lb, basic, tmp_path, target, REQS + "Mixed_Case.Name\n", name="more.txt")
        assert "removed 2 leftovers of interrupted runs" in r.stderr, r.describe()
        assert not dead_env.exists() and not dead_store.exists()
        assert (live / "partial").exists(), "a live run's temp dir was removed"
        lb.run("verify", target).ok()
    finally:
        os.close(fd)
    # Its owner gone (the lock closed), the once-live dir is a leftover like the others.
    assert lb.run("cache", "stats", "--json").ok().json()["leftovers"] == 1
    build(lb, basic, tmp_path, target)
    assert not live.exists()
    assert lb.run("cache", "stats", "--json").ok().json()["leftovers"] == 0
    lb.run("cache", "verify").ok()


def test_noop_run_also_removes_leftovers(lb, basic, tmp_path):
    target = tmp_path / "env"
    build(lb, basic, tmp_path, target)
    dead = make_dead_dir(tmp_path / "env.tmp-0123456789abcdef")
    r = build(lb, basic, tmp_path, target)
    assert "up to date" in r.stderr
    assert not dead.exists()


def test_temp_names_are_random(lb, basic, tmp_path):
    """The temp env beside the target and the store's temp dir carry no pid."""
    import re
    target = tmp_path / "env"
    p = lb.popen("env", write(tmp_path / "req.txt", REQS), "-o", target, "--no-index", "-f", basic.files)
    seen = set()
    while p.poll() is None:
        seen |= {n for n in os.listdir(tmp_path) if n.startswith("env.tmp-")}
    p.communicate()
    assert p.returncode == 0
    assert seen, "the run's temp env beside the target was never seen"
    for name in seen:
        assert re.fullmatch(r"env\.tmp-[0-9a-f]{16}", name), name
        assert str(p.pid) not in name


def test_env_swapped_out_by_a_killed_run_is_restored(lb, basic, tmp_path):
    """Without RENAME_EXCHANGE a swap is two renames; a kill between them leaves the target
    missing and the complete env under a temp name: the next run puts it back."""
    target = tmp_path / "env"
    build(lb, basic, tmp_path, target)
    aside = tmp_path / "env.tmp-0123456789abcdef"
    target.rename(aside)
    r = build(lb, basic, tmp_path, target)
    assert "restored" in r.stderr and "up to date" in r.stderr, r.describe()
    assert not aside.exists()
    lb.run("verify", target).ok()


def test_a_users_own_similar_names_are_never_taken_for_leftovers(lb, basic, tmp_path):
    target = tmp_path / "env"
    mine = [tmp_path / "env.tmp-old", tmp_path / "env.tmp-0123456789ABCDEF"]
    for d in mine:
        make_dead_dir(d)
    build(lb, basic, tmp_path, target)
    build(lb, basic, tmp_path, target, REQS + "Mixed_Case.Name\n", name="more.txt")
    assert all(d.exists() for d in mine)


# ------------------------------------------------------------------ tampering
def edit_in_place(path: Path, text: bytes) -> None:
    """What root does with an editor that writes in place: same inode, new bytes."""
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:
        f.write(text)
        f.truncate()


def test_store_file_edited_in_place_is_never_linked_again(lb, basic, tmp_path, environ):
    first = tmp_path / "first"
    build(lb, basic, tmp_path, first)
    module = site_packages(first) / "delta" / "__init__.py"
    original = module.read_bytes()
    edit_in_place(module, b"raise SystemExit('tampered code ran')\n")  # changes the store blob
    r = lb.run("cache", "verify")
    r.fails(1)
    assert "corrupt" in r.stdout and "--repair" in r.stderr, r.describe()
    second = tmp_path / "second"
    build(lb, basic, tmp_path, second)
    assert (site_packages(second) / "delta" / "__init__.py").read_bytes() == original
    run([second / "bin" / "python", "-c", "import delta"], env=environ).ok()
    lb.run("verify", second).ok()
    lb.run("cache", "verify").ok()  # the damaged blob was replaced


def test_cache_verify_repair_removes_corrupt_files_and_the_entries_that_need_them(lb, basic, tmp_path):
    target = tmp_path / "env"
    build(lb, basic, tmp_path, target)
    # The missing file is the delta wheel (its dl/ entry names it); the corrupt one any other.
    wheel_sha = file_sha(next(basic.files.glob("delta-0.5-*.whl")))
    missing = lb.cache_dir / "blobs" / wheel_sha[:2] / wheel_sha
    assert missing.is_file()
    blobs = sorted(p for p in (lb.cache_dir / "blobs").rglob("*")
                   if p.is_file() and p.name != EMPTY_SHA and p != missing)
    victim = blobs[0]
    edit_in_place(victim, b"garbage")
    missing.unlink()
    r = lb.run("cache", "verify")
    r.fails(1)
    assert f"corrupt {victim}" in r.stdout, r.describe()
    assert "dangling ac/" in r.stdout or "dangling dl/" in r.stdout, "an entry naming a missing blob must not verify clean\n" + r.describe()
    lb.run("cache", "verify", "--repair").ok()
    assert not victim.exists()
    lb.run("cache", "verify").ok()
    # The next run fetches or unpacks again and builds a complete env.
    other = tmp_path / "other"
    build(lb, basic, tmp_path, other)
    lb.run("verify", other).ok()
    lb.run("cache", "verify").ok()


@pytest.mark.parametrize("damage", ["deleted", "edited"])
@pytest.mark.parametrize("mode", ["hardlink", "copy"])
def test_env_with_damaged_file_is_repaired_by_the_next_run(lb, basic, tmp_path, environ, damage, mode):
    target = tmp_path / "env"
    build(lb, basic, tmp_path, target, REQS, "--link-mode", mode)
    module = site_packages(target) / "zeta" / "__init__.py"
    original = module.read_bytes()
    if damage == "deleted":
        module.unlink()
    else:
        edit_in_place(module, b"raise SystemExit('local edit')\n")
    r = build(lb, basic, tmp_path, target, REQS + "Mixed_Case.Name\n", "--link-mode", mode, name="more.txt")
    assert "repairing zeta" in r.stderr, "the output must say what was repaired\n" + r.describe()
    assert module.read_bytes() == original, "the local change was carried into the rebuilt env"
    run([target / "bin" / "python", "-c", "import zeta, mixedcase"], env=environ).ok()
    lb.run("verify", target).ok()
    lb.run("cache", "verify").ok()


# ------------------------------------------------------------------ resource faults
def test_read_only_cache_serves_offline_installs_and_stats(lb, basic, tmp_path, environ):
    build(lb, basic, tmp_path, tmp_path / "warm")
    ro = tmp_path / "ro-cache"
    with mounted("--bind", str(lb.cache_dir), target=ro):
        subprocess.run(["mount", "-o", "remount,bind,ro", str(ro)], check=True)
        target = tmp_path / "offline"
        r = lb.run("env", write(tmp_path / "req.txt", REQS), "-o", target, "--offline", "--no-index",
                   "-f", basic.files, cache_dir=ro)
        r.ok()
        run([target / "bin" / "python", "-c", "import delta, zeta"], env=environ).ok()
        st = lb.run("cache", "stats", "--json", cache_dir=ro).ok().json()
        assert st["blobs"] > 0 and st["index_entries"] > 0, st
        lb.run("cache", "verify", cache_dir=ro).ok()


def test_full_disk_leaves_no_half_written_files_in_the_store(lb, basic, tmp_path):
    small = tmp_path / "small"
    with mounted("-t", "tmpfs", "-o", "size=48k", "tmpfs", target=small):
        cache = small / "cache"
        r = lb.run("env", write(tmp_path / "req.txt", REQS + "native-ext\n"), "-o", tmp_path / "env",
                   "--no-index", "-f", basic.files, cache_dir=cache)
        r.fails(1)
        assert "No space left on device" in r.stderr, r.describe()
        assert "Traceback" not in r.stderr and "terminate called" not in r.stderr
        empty = [p for p in (cache / "blobs").rglob("*") if p.is_file() and p.stat().st_size == 0
                 and p.name != EMPTY_SHA]
        assert not empty, f"zero-byte files in the store: {empty}"
        for p in (cache / "blobs").rglob("*"):
            if p.is_file():
                assert file_sha(p) == p.name.removesuffix(".x"), f"half-written blob {p}"
        assert not any((cache / "tmp").iterdir()), "temp files left in the store"
        assert not (tmp_path / "env").exists()
        lb.run("cache", "verify", cache_dir=cache).ok()


# ------------------------------------------------------------------ what an env or cache holds is input too
# A repository may ship a .venv/, a cache directory may be someone else's: lavabuild acts on
# neither beyond the env and the cache.

def test_a_planted_journal_never_touches_the_directory_it_names(lb, basic, tmp_path):
    target = tmp_path / "repo" / ".venv"
    (target / ".lavabuild").mkdir(parents=True)
    victim = tmp_path / "otherproj"
    write(victim / "pub" / "secret.txt", "mine\n")
    write(target / ".lavabuild" / "journal",
          f"lavabuild.journal.v1\nstaging {tmp_path}/repo/../otherproj\nmove pub/secret.txt\n")
    r = build(lb, basic, tmp_path, target)
    assert "could not be finished" in r.stderr, r.describe()
    assert (victim / "pub" / "secret.txt").read_text() == "mine\n"
    assert not (target / "pub").exists()
    lb.run("verify", target).ok()


def test_a_manifest_path_out_of_the_env_is_never_acted_on(lb, basic, tmp_path):
    target = tmp_path / "env"
    build(lb, basic, tmp_path, target)
    outside = write(tmp_path / "outside.txt", "keep me\n")
    manifest = target / ".lavabuild" / "manifest.json"
    text = manifest.read_text()
    manifest.unlink()  # (a link to a store blob: not edited in place)
    assert '"dist_info":"lib/' in text
    manifest.write_text(text.replace('"files":[[', '"files":[["../outside.txt","100644","' + "0" * 64 +
                                     '",8,0],[', 1))
    build(lb, basic, tmp_path, target, "zeta\n", name="fewer.txt")  # removes delta
    assert outside.read_text() == "keep me\n"
    lb.run("verify", target).ok()


def test_a_symlink_planted_for_a_directory_of_the_env_is_never_written_through(lb, basic, tmp_path):
    target = tmp_path / "env"
    build(lb, basic, tmp_path, target)
    victim = tmp_path / "victim"
    write(victim / "keep.txt", "mine\n")
    pkg = site_packages(target) / "zeta"
    subprocess.run(["rm", "-rf", str(pkg)], check=True)
    pkg.symlink_to(victim, target_is_directory=True)
    r = lb.run("env", write(tmp_path / "more.txt", REQS + "Mixed_Case.Name\n"), "-o", target,
               "--no-index", "-f", basic.files).fails(1)
    assert f"{pkg} is not a directory (a symlink)" in r.stderr and "nothing was changed" in r.stderr, r.describe()
    assert sorted(p.name for p in victim.iterdir()) == ["keep.txt"], "lavabuild wrote through the symlink"
    pkg.unlink()
    build(lb, basic, tmp_path, target, REQS + "Mixed_Case.Name\n", name="more.txt")
    lb.run("verify", target).ok()


@pytest.mark.parametrize("how", ["another user's", "world-writable"])
def test_a_cache_others_can_write_is_refused(lb, basic, tmp_path, how):
    need_root()
    cache = tmp_path / "shared-cache"
    cache.mkdir()
    if how == "another user's":
        os.chown(cache, 65534, 65534)
    else:
        os.chmod(cache, 0o777)
    r = lb.run("env", write(tmp_path / "req.txt", REQS), "-o", tmp_path / "env", "--no-index",
               "-f", basic.files, "--cache-dir", cache).fails(1)
    want = "belongs to uid 65534" if how == "another user's" else "is writable by every user"
    assert f"the cache {cache} {want}" in r.stderr, r.describe()
    assert not (tmp_path / "env").exists()


def test_a_fifo_named_like_a_wheel_is_refused_not_waited_on(lb, basic, tmp_path):
    links = tmp_path / "links"
    links.mkdir()
    os.mkfifo(links / "delta-0.5-py3-none-any.whl")
    r = lb.run("env", write(tmp_path / "req.txt", "delta==0.5\n"), "-o", tmp_path / "env", "--no-index",
               "-f", links, timeout=60).fails(1)
    assert "delta-0.5-py3-none-any.whl is not a regular file" in r.stderr, r.describe()
