"""The storage layer of the persistent compile cache (SPEC §7): entries, validation, LRU bound,
graceful degradation and concurrent writers. Everything lives under ``tmp_path``; the real user
cache is never touched."""

from __future__ import annotations

import logging
import os
import struct
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from pathlib import Path

import pytest

from numba_cfunc_compiler.targets import cache as cache_module
from numba_cfunc_compiler.targets.cache import (
    DEFAULT_MAX_BYTES,
    FORMAT_VERSION,
    CacheInfo,
    CompileCache,
    default_directory,
)

TOOLCHAIN = "ncc-0.1.0 numba-0.64 llvmlite-0.46 py3.12 x86_64-test"
LOGGER = "numba_cfunc_compiler.cache"


def make(directory: Path, **kwargs) -> CompileCache:
    return CompileCache(directory, toolchain=kwargs.pop("toolchain", TOOLCHAIN), **kwargs)


def entry_size(payload_len: int, toolchain: str = TOOLCHAIN) -> int:
    return 8 + 4 + 4 + len(toolchain.encode()) + 8 + 32 + payload_len


def temp_files(directory: Path) -> list[str]:
    return [name for _, _, names in os.walk(directory) for name in names if name.endswith(".tmp")]


def set_mtime(path: Path, seconds_ago: float) -> None:
    t = time.time_ns() - int(seconds_ago * 1e9)
    os.utime(path, ns=(t, t))


# -- round trip, miss, layout ----------------------------------------------------------------------


def test_round_trip_and_layout(tmp_path):
    cache = make(tmp_path / "c")
    key = "0123456789abcdef"
    cache.put(key, b"payload \x00\xff bytes")
    assert cache.get(key) == b"payload \x00\xff bytes"
    path = tmp_path / "c" / "01" / f"{key}.ncc"
    assert cache.entry_path(key) == path and path.is_file()
    data = path.read_bytes()
    assert data.startswith(b"NCCCACHE")
    assert struct.unpack_from("<I", data, 8)[0] == FORMAT_VERSION
    assert TOOLCHAIN.encode() in data[:200]
    # A second instance (another process, in effect) sees the same entry.
    assert make(tmp_path / "c").get(key) == b"payload \x00\xff bytes"


def test_put_replaces_and_accepts_bytes_like(tmp_path):
    cache = make(tmp_path)
    cache.put("aa11", b"first")
    cache.put("aa11", bytearray(b"second, longer"))
    assert cache.get("aa11") == b"second, longer"
    cache.put("aa11", memoryview(b""))
    assert cache.get("aa11") == b""


def test_miss_and_lazy_directory(tmp_path):
    directory = tmp_path / "not" / "yet"
    cache = make(directory)
    assert cache.get("abcd") is None
    assert cache.info() == CacheInfo(directory, 0, 0, DEFAULT_MAX_BYTES)
    assert not directory.exists()
    cache.put("abcd", b"x")
    assert directory.is_dir()
    assert cache.get("abcd") == b"x"
    assert cache.get("abce") is None


def test_hit_refreshes_mtime(tmp_path):
    cache = make(tmp_path)
    cache.put("beef", b"x")
    path = cache.entry_path("beef")
    set_mtime(path, 3600)
    before = path.stat().st_mtime
    assert cache.get("beef") == b"x"
    assert path.stat().st_mtime > before + 3000


@pytest.mark.parametrize(
    "key", ["", "../etc", "ab/cd", "ab\\cd", "ab.cd", "ab cd", "ab\x00", "é1", "k" * 129, 12, None]
)
def test_bad_key_rejected(tmp_path, key):
    cache = make(tmp_path)
    with pytest.raises(ValueError, match="invalid compile cache key"):
        cache.put(key, b"x")
    with pytest.raises(ValueError, match="invalid compile cache key"):
        cache.get(key)
    assert list(tmp_path.iterdir()) == []


def test_max_bytes_must_be_positive(tmp_path):
    with pytest.raises(ValueError):
        make(tmp_path, max_bytes=0)


# -- environment -----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["off", "OFF", "0", "false", "False", "none", " None "])
def test_off_values_disable(monkeypatch, value):
    monkeypatch.setenv("NCC_CACHE_DIR", value)
    assert CompileCache.from_environment(toolchain=TOOLCHAIN) is None


def test_env_relocates_without_creating(monkeypatch, tmp_path):
    monkeypatch.setenv("NCC_CACHE_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.delenv("NCC_CACHE_MAX_BYTES", raising=False)
    cache = CompileCache.from_environment(toolchain=TOOLCHAIN)
    assert cache is not None
    assert cache.directory == tmp_path / "elsewhere"
    assert cache.toolchain == TOOLCHAIN and cache.max_bytes == DEFAULT_MAX_BYTES
    assert not (tmp_path / "elsewhere").exists()


def test_env_max_bytes(monkeypatch, tmp_path):
    monkeypatch.setenv("NCC_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("NCC_CACHE_MAX_BYTES", "12345")
    assert CompileCache.from_environment(toolchain=TOOLCHAIN).max_bytes == 12345
    monkeypatch.setenv("NCC_CACHE_MAX_BYTES", "64M")
    assert CompileCache.from_environment(toolchain=TOOLCHAIN).max_bytes == 64 * 2**20
    monkeypatch.setenv("NCC_CACHE_MAX_BYTES", "lots")
    with pytest.warns(RuntimeWarning, match="NCC_CACHE_MAX_BYTES"):
        cache = CompileCache.from_environment(toolchain=TOOLCHAIN)
    assert cache.max_bytes == DEFAULT_MAX_BYTES


def test_unset_env_uses_default_directory(monkeypatch, tmp_path):
    monkeypatch.delenv("NCC_CACHE_DIR", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    cache = CompileCache.from_environment(toolchain=TOOLCHAIN)
    assert cache.directory == tmp_path / "xdg" / "numba-cfunc-compiler"
    assert not (tmp_path / "xdg").exists()


def test_default_directory_per_platform(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_directory() == tmp_path / "xdg" / "numba-cfunc-compiler"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert default_directory() == tmp_path / "home" / ".cache" / "numba-cfunc-compiler"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_directory() == tmp_path / "home" / ".cache" / "numba-cfunc-compiler"
    monkeypatch.setattr(sys, "platform", "darwin")
    assert default_directory() == tmp_path / "home" / "Library" / "Caches" / "numba-cfunc-compiler"
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "local"))
    assert default_directory() == tmp_path / "local" / "numba-cfunc-compiler"


# -- bad entries -----------------------------------------------------------------------------------


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-3])


def _truncate_header(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:20])


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _random(path: Path) -> None:
    path.write_bytes(os.urandom(300))


def _flip_payload_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x01
    path.write_bytes(bytes(data))


def _trailing_garbage(path: Path) -> None:
    path.write_bytes(path.read_bytes() + b"\x00")


def _other_format_version(path: Path) -> None:
    data = bytearray(path.read_bytes())
    struct.pack_into("<I", data, 8, FORMAT_VERSION + 1)
    path.write_bytes(bytes(data))


def _other_toolchain(path: Path) -> None:
    other = CompileCache(path.parent.parent, toolchain="some other toolchain")
    other.put(path.name[: -len(".ncc")], b"payload compiled elsewhere")


@pytest.mark.parametrize(
    "damage",
    [_truncate, _truncate_header, _empty, _random, _flip_payload_byte, _trailing_garbage,
     _other_format_version, _other_toolchain],
)  # fmt: skip
def test_bad_entry_is_reported_removed_and_rebuilt(tmp_path, caplog, damage):
    cache = make(tmp_path)
    key, neighbour = "ab01", "ab02"  # same fan-out directory
    cache.put(key, b"good payload " * 20)
    cache.put(neighbour, b"neighbour")
    neighbour_bytes = cache.entry_path(neighbour).read_bytes()
    path = cache.entry_path(key)
    damage(path)

    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        assert cache.get(key) is None
        assert not path.exists()
        assert cache.get(key) is None  # a plain miss now: not reported again
    reports = [r for r in caplog.records if r.name == LOGGER]
    assert len(reports) == 1 and reports[0].levelno == logging.DEBUG
    assert str(path) in reports[0].getMessage()

    cache.put(key, b"rebuilt")
    assert cache.get(key) == b"rebuilt"
    assert cache.entry_path(neighbour).read_bytes() == neighbour_bytes
    assert cache.get(neighbour) == b"neighbour"


def test_bad_entry_replaced_meanwhile_is_not_removed(tmp_path):
    """A reader that saw a bad entry must not delete a good one another writer just put there."""
    cache = make(tmp_path)
    cache.put("cafe", b"x")
    path = cache.entry_path("cafe")
    path.write_bytes(b"garbage")
    real_decode = cache._decode

    def decode_then_race(data: bytes) -> bytes:
        make(tmp_path).put("cafe", b"fresh from another writer")
        return real_decode(data)

    cache._decode = decode_then_race  # type: ignore[method-assign]
    assert cache.get("cafe") is None
    del cache._decode
    assert cache.get("cafe") == b"fresh from another writer"


# -- size bound ------------------------------------------------------------------------------------


def test_lru_eviction_keeps_bound_and_evicts_oldest(tmp_path):
    payload = b"p" * 1000
    size = entry_size(len(payload))
    keys = [f"k{i}" for i in range(10)]
    filler = make(tmp_path)
    for i, key in enumerate(keys):
        filler.put(key, payload)
        set_mtime(filler.entry_path(key), 1000 - i)  # k0 oldest ... k9 newest
    assert filler.get("k0") == payload  # used now: the most recently used of the ten

    max_bytes = 6 * size + size // 2
    cache = make(tmp_path, max_bytes=max_bytes)
    cache.put("new", payload)

    info = cache.info()
    assert info.total_bytes <= 0.9 * max_bytes
    survivors = {k for k in [*keys, "new"] if cache.entry_path(k).exists()}
    assert survivors == {"k0", "k7", "k8", "k9", "new"}
    assert info.entries == len(survivors) and info.total_bytes == len(survivors) * size


def test_entry_just_written_survives_even_above_bound(tmp_path):
    cache = make(tmp_path, max_bytes=100)
    make(tmp_path).put("old1", b"o" * 50)
    make(tmp_path).put("old2", b"o" * 50)
    cache.put("big", b"b" * 500)
    assert cache.get("big") == b"b" * 500
    assert cache.get("old1") is None and cache.get("old2") is None
    cache.put("big2", b"c" * 500)
    assert cache.get("big2") == b"c" * 500 and cache.get("big") is None


def test_put_does_not_rescan_below_bound(tmp_path, monkeypatch):
    cache = make(tmp_path, max_bytes=10 * entry_size(100))
    scans = []
    real_scan = cache._scan
    monkeypatch.setattr(cache, "_scan", lambda: scans.append(1) or real_scan())
    for i in range(9):
        cache.put(f"aa{i}", b"x" * 100)
    assert len(scans) == 1  # the first put learns the real total; later puts only count
    for i in range(9, 12):
        cache.put(f"aa{i}", b"x" * 100)
    assert len(scans) >= 2
    assert cache.info().total_bytes <= cache.max_bytes


def test_eviction_tolerates_files_vanishing(tmp_path, monkeypatch):
    cache = make(tmp_path, max_bytes=3 * entry_size(100))
    for i in range(3):
        make(tmp_path).put(f"bb{i}", b"x" * 100)
    real_scan = cache._scan

    def scan_then_delete():
        entries = real_scan()
        for entry in entries:  # another process evicts everything between our scan and unlink
            if entry.path.name != "bbnew.ncc":
                entry.path.unlink()
        return entries

    monkeypatch.setattr(cache, "_scan", scan_then_delete)
    cache.put("bbnew", b"x" * 100)
    assert cache.get("bbnew") == b"x" * 100


# -- degradation -----------------------------------------------------------------------------------


def _put_get_several(cache: CompileCache) -> list[warnings.WarningMessage]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for i in range(5):
            cache.put(f"cc{i}", b"x" * 10)
            assert cache.get(f"cc{i}") is None
    return [w for w in caught if issubclass(w.category, RuntimeWarning)]


def _check_single_warning(caught: list[warnings.WarningMessage], cache: CompileCache) -> None:
    assert len(caught) == 1
    message = str(caught[0].message)
    assert str(cache.directory) in message
    assert "without the cache" in message
    assert "Error" in message  # names the error (PermissionError / NotADirectoryError ...)
    assert caught[0].filename == __file__  # points at the caller of put
    assert not cache.writable


def test_read_only_directory_warns_once(tmp_path):
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o500)
    try:
        directory = parent / "cache"
        if os.access(parent, os.W_OK):  # root: permissions do not stop us; simulate instead
            (tmp_path / "a_file").write_bytes(b"")
            directory = tmp_path / "a_file" / "cache"
        cache = make(directory)
        _check_single_warning(_put_get_several(cache), cache)
        assert cache.info().entries == 0 and cache.clear() == 0
    finally:
        parent.chmod(0o700)


def test_directory_under_a_regular_file_warns_once(tmp_path):
    (tmp_path / "a_file").write_bytes(b"not a directory")
    cache = make(tmp_path / "a_file" / "cache")
    _check_single_warning(_put_get_several(cache), cache)
    assert cache.info().entries == 0


def test_read_only_cache_still_serves_hits(tmp_path):
    directory = tmp_path / "c"
    make(directory).put("dd01", b"compiled earlier")
    modes = [(directory, 0o500), (directory / "dd", 0o500)]
    for path, mode in modes:
        path.chmod(mode)
    try:
        if os.access(directory / "dd", os.W_OK):
            pytest.skip("running as root: permissions do not make the directory read-only")
        cache = make(directory)
        assert cache.get("dd01") == b"compiled earlier"
        with pytest.warns(RuntimeWarning, match="without the cache"):
            cache.put("dd02", b"new")
        assert cache.get("dd01") == b"compiled earlier"
        assert temp_files(directory) == []
    finally:
        for path, _ in modes:
            path.chmod(0o700)


def test_write_failure_mid_put_leaves_no_temp_file(tmp_path, monkeypatch):
    cache = make(tmp_path)

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cache_module.os, "replace", full_disk)
    with pytest.warns(RuntimeWarning, match="No space left"):
        cache.put("ee01", b"x" * 1000)
    monkeypatch.undo()
    assert temp_files(tmp_path) == []
    assert cache.get("ee01") is None
    cache.put("ee01", b"y")  # disabled for writes from now on, silently
    assert cache.get("ee01") is None


# -- concurrency -----------------------------------------------------------------------------------


def _payload(key: str, writer: int) -> bytes:
    return f"{key}/{writer}:".encode() * (37 * (writer + 1) + len(key))


@pytest.mark.parametrize("max_bytes", [DEFAULT_MAX_BYTES, 20_000])
def test_threads_never_see_torn_entries(tmp_path, max_bytes):
    keys = [f"ff{i}" for i in range(6)] + [f"f{i}0" for i in range(4)]
    n_threads = 8
    valid = {k: {_payload(k, t) for t in range(n_threads)} for k in keys}
    shared = make(tmp_path, max_bytes=max_bytes)
    errors: list[str] = []
    barrier = threading.Barrier(n_threads)

    def worker(t: int) -> None:
        cache = shared if t % 2 else make(tmp_path, max_bytes=max_bytes)
        barrier.wait()
        try:
            for i in range(50):
                key = keys[(i + t) % len(keys)]
                cache.put(key, _payload(key, t))
                got = cache.get(keys[(i * 7 + t) % len(keys)])
                if got is not None and got not in valid[keys[(i * 7 + t) % len(keys)]]:
                    errors.append(f"torn read in thread {t}")
        except Exception as err:  # noqa: BLE001 - reported below
            errors.append(repr(err))

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        threads = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()

    assert errors == []
    for key in keys:
        got = shared.get(key)
        if max_bytes == DEFAULT_MAX_BYTES:
            assert got in valid[key]
        else:
            assert got is None or got in valid[key]
    assert temp_files(tmp_path) == []


CHILD = textwrap.dedent(
    """
    import importlib.util, os, sys, time, warnings
    warnings.simplefilter("error")
    spec = importlib.util.spec_from_file_location("ncc_cache_under_test", {module!r})
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)

    def payload(key, writer):
        return f"{{key}}/{{writer}}:".encode() * (997 * (writer + 1) + len(key))

    writer = int(sys.argv[1])
    keys = {keys!r}
    valid = {{k: {{payload(k, w) for w in range({n})}} for k in keys}}
    cache = mod.CompileCache({directory!r}, toolchain={toolchain!r})
    deadline = time.monotonic() + 60
    while not os.path.exists({go!r}):
        if time.monotonic() > deadline:
            sys.exit("never started")
        time.sleep(0.001)
    for i in range(60):
        for key in keys:
            cache.put(key, payload(key, writer))
            got = cache.get(keys[(i + writer) % len(keys)])
            if got is not None and got not in valid[keys[(i + writer) % len(keys)]]:
                sys.exit(f"torn read of {{keys[(i + writer) % len(keys)]}}")
    """
)


def test_processes_never_see_torn_entries(tmp_path):
    directory = tmp_path / "shared"
    keys = ["0a1b2c", "0a1b2d", "ffee"]
    n = 4
    go = tmp_path / "go"
    script = CHILD.format(
        module=cache_module.__file__, keys=keys, n=n, directory=str(directory), toolchain=TOOLCHAIN, go=str(go)
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(w)], stderr=subprocess.PIPE, text=True)
        for w in range(n)
    ]
    time.sleep(0.2)
    go.write_bytes(b"")
    failures = []
    for p in procs:
        _, err = p.communicate(timeout=120)
        if p.returncode:
            failures.append(err)
    assert failures == []

    def payload(key: str, writer: int) -> bytes:
        return f"{key}/{writer}:".encode() * (997 * (writer + 1) + len(key))

    cache = make(directory)
    for key in keys:
        assert cache.get(key) in {payload(key, w) for w in range(n)}
    assert temp_files(directory) == []
    assert cache.info().entries == len(keys)


# -- info and clear --------------------------------------------------------------------------------


def test_info_and_clear(tmp_path):
    cache = make(tmp_path, max_bytes=10**6)
    cache.put("ab12", b"x" * 10)
    cache.put("ab13", b"y" * 20)
    cache.put("cd01", b"z")
    info = cache.info()
    assert info == CacheInfo(tmp_path, 3, entry_size(10) + entry_size(20) + entry_size(1), 10**6)

    # Files the cache does not own survive a clear; its own stray temp files do not.
    (tmp_path / "README.txt").write_text("mine")
    (tmp_path / "ab" / "notes.txt").write_text("mine too")
    (tmp_path / "ab" / "ab.ncc.bak").write_text("mine as well")
    stray = tmp_path / "ab" / ".ab14.1234-5678-00ff.tmp"
    stray.write_bytes(b"half an entry")
    assert cache.info().entries == 3

    assert cache.clear() == 3
    assert not stray.exists()
    assert (tmp_path / "README.txt").read_text() == "mine"
    assert (tmp_path / "ab" / "notes.txt").exists() and (tmp_path / "ab" / "ab.ncc.bak").exists()
    assert cache.info() == CacheInfo(tmp_path, 0, 0, 10**6)
    assert cache.get("ab12") is None
    assert cache.clear() == 0

    cache.put("ab12", b"again")
    assert cache.get("ab12") == b"again"
    assert make(tmp_path / "missing").clear() == 0
