"""Storage layer of the persistent compile cache (SPEC §7): one opaque payload per key, on disk.

The compiler computes a hex key per compiled node (semantic key, helper code, FFI declarations,
toolchain fingerprint) and stores one ``bytes`` payload under it. This module only stores bytes:
it knows nothing about what they mean, and imports nothing but the standard library.

Layout: ``<directory>/<key[:2]>/<key>.ncc``. Each entry is a fixed header followed by the payload::

    b"NCCCACHE" | format version (u32) | toolchain length (u32) | toolchain (UTF-8)
                | payload length (u64) | SHA-256 of the payload (32 bytes) | payload

All integers little-endian. Writers go through a uniquely named temp file in the entry's own
directory and ``os.replace`` it into place, so readers see a whole old entry or a whole new one,
never a torn one, whatever number of threads and processes write at once. A hit refreshes the
entry's mtime; ``put`` evicts least-recently-used entries when the directory outgrows its bound.
Every I/O failure degrades to "no cache": nothing raises out of ``get``/``put`` for I/O reasons.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import re
import struct
import sys
import threading
import warnings
from pathlib import Path

__all__ = [
    "DEFAULT_MAX_BYTES",
    "FORMAT_VERSION",
    "CacheInfo",
    "CompileCache",
    "default_directory",
]

DEFAULT_MAX_BYTES = 256 * 2**20
#: Version of the entry format; entries of another version are treated as foreign and rebuilt.
FORMAT_VERSION = 1
MAGIC = b"NCCCACHE"
APP_NAME = "numba-cfunc-compiler"
ENV_DIR = "NCC_CACHE_DIR"
ENV_MAX_BYTES = "NCC_CACHE_MAX_BYTES"
OFF_VALUES = frozenset({"off", "0", "false", "none"})
ENTRY_SUFFIX = ".ncc"
TEMP_SUFFIX = ".tmp"
#: After an eviction the total is brought under this fraction of ``max_bytes``.
EVICT_TO_FRACTION = 0.9
MAX_KEY_LENGTH = 128

_PREFIX = struct.Struct("<8sII")  # magic, format version, toolchain length
_SUFFIX = struct.Struct("<Q32s")  # payload length, SHA-256 of the payload
_KEY_RE = re.compile(r"[0-9A-Za-z]{1,%d}" % MAX_KEY_LENGTH)
# ".<key>.<pid>-<thread id>-<random>.tmp": a temp file written by some CompileCache.put.
_TEMP_RE = re.compile(r"\.[0-9A-Za-z]+\.[0-9]+-[0-9]+-[0-9a-f]+\.tmp")
_SIZE_RE = re.compile(r"\s*([0-9]+)\s*([kmg]?)(?:i?b)?\s*", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30}

logger = logging.getLogger("numba_cfunc_compiler.cache")


@dataclasses.dataclass(frozen=True)
class CacheInfo:
    """What ``CompileCache.info`` reports: where the cache is, and how full."""

    directory: Path
    entries: int
    total_bytes: int
    max_bytes: int


@dataclasses.dataclass(frozen=True)
class _Entry:
    path: Path
    size: int
    mtime_ns: int


class _BadEntry(Exception):
    """An entry file that is not a valid entry of this cache (reason in the message)."""


def default_directory() -> Path:
    """The platform's user cache directory for this package (used when ``NCC_CACHE_DIR`` is unset).

    Linux and other POSIX: ``$XDG_CACHE_HOME`` (if absolute, as the XDG spec asks) or
    ``~/.cache``; macOS: ``~/Library/Caches``; Windows: ``%LOCALAPPDATA%``.
    """
    if sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA")
        base = Path(local) if local else Path.home() / "AppData" / "Local"
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / APP_NAME


def _parse_size(text: str) -> int:
    """``"1048576"``, ``"512K"``, ``"64M"``, ``"1GiB"`` -> bytes; ValueError if not a positive size."""
    match = _SIZE_RE.fullmatch(text)
    if match is None:
        raise ValueError(f"not a size in bytes: {text!r}")
    value = int(match.group(1)) * _SIZE_UNITS[match.group(2).lower()]
    if value <= 0:
        raise ValueError(f"size must be positive: {text!r}")
    return value


def _check_key(key: str) -> str:
    if not isinstance(key, str) or _KEY_RE.fullmatch(key) is None:
        raise ValueError(
            f"invalid compile cache key {key!r}: expected 1 to {MAX_KEY_LENGTH} ASCII letters or digits"
        )
    return key


class CompileCache:
    """A bounded on-disk store of one opaque payload per key, safe across threads and processes.

    State (per instance, nothing module-level):
    - ``directory``, ``toolchain``, ``max_bytes``: fixed at construction.
    - ``_total``: approximate bytes on disk (None until the first ``put`` scans the directory);
      grows with each ``put`` and is corrected by a rescan only when it may exceed ``max_bytes``,
      so a ``put`` costs no directory walk. Other processes' writes are only seen at a rescan.
    - ``_writable``: False after the first write failure (one RuntimeWarning, then writes are
      skipped; reads keep working).
    - ``_lock`` guards the two fields above; ``_evict_lock`` lets one thread evict at a time.
    """

    def __init__(
        self, directory: str | os.PathLike[str], *, toolchain: str, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        self.directory = Path(directory)
        self.toolchain = toolchain
        self.max_bytes = int(max_bytes)
        self._toolchain_bytes = toolchain.encode("utf-8")
        self._total: int | None = None
        self._writable = True
        self._lock = threading.Lock()
        self._evict_lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"CompileCache({str(self.directory)!r}, toolchain={self.toolchain!r}, "
            f"max_bytes={self.max_bytes})"
        )

    @classmethod
    def from_environment(cls, *, toolchain: str) -> CompileCache | None:
        """The cache the environment asks for: ``NCC_CACHE_DIR`` relocates it (``off``, ``0``,
        ``false``, ``none`` disable it: None), unset means ``default_directory()``;
        ``NCC_CACHE_MAX_BYTES`` (bytes, or with a K/M/G suffix) overrides the size bound.
        Nothing is created on disk until the first ``put``."""
        setting = os.environ.get(ENV_DIR, "").strip()
        if setting.lower() in OFF_VALUES:
            return None
        directory = Path(os.path.expanduser(setting)) if setting else default_directory()
        max_bytes = DEFAULT_MAX_BYTES
        size_setting = os.environ.get(ENV_MAX_BYTES, "").strip()
        if size_setting:
            try:
                max_bytes = _parse_size(size_setting)
            except ValueError as err:
                # A typo in a tuning knob should not stop compiles.
                warnings.warn(
                    f"ignoring {ENV_MAX_BYTES}: {err}; using {DEFAULT_MAX_BYTES} bytes",
                    RuntimeWarning,
                    stacklevel=2,
                )
        return cls(directory, toolchain=toolchain, max_bytes=max_bytes)

    # -- paths -----------------------------------------------------------------------------------

    def entry_path(self, key: str) -> Path:
        """Where the entry of ``key`` lives: ``<directory>/<key[:2]>/<key>.ncc``.
        ValueError on a bad key."""
        _check_key(key)
        return self.directory / key[:2] / (key + ENTRY_SUFFIX)

    @property
    def writable(self) -> bool:
        """False once a write failed; the instance then only reads."""
        return self._writable

    # -- reading ---------------------------------------------------------------------------------

    def get(self, key: str) -> bytes | None:
        """The payload stored under ``key``, or None (miss, or an entry that is not valid for this
        cache: it is reported at debug level and removed so the caller's next ``put`` rebuilds it)."""
        path = self.entry_path(key)
        try:
            with open(path, "rb") as f:
                identity = _identity(os.fstat(f.fileno()))
                data = f.read()
        except FileNotFoundError:
            return None
        except OSError as err:
            logger.debug("compile cache: cannot read %s (%s); treating as a miss", path, err)
            return None
        try:
            payload = self._decode(data)
        except _BadEntry as err:
            logger.debug("compile cache: discarding entry %s: %s", path, err)
            self._discard(path, identity)
            return None
        try:
            os.utime(path)  # LRU: a hit makes the entry the most recently used
        except OSError:
            pass
        return payload

    def _decode(self, data: bytes) -> bytes:
        if len(data) < _PREFIX.size:
            raise _BadEntry(f"truncated header ({len(data)} bytes)")
        magic, version, toolchain_len = _PREFIX.unpack_from(data)
        if magic != MAGIC:
            raise _BadEntry("not a compile cache entry (bad magic)")
        if version != FORMAT_VERSION:
            raise _BadEntry(f"format version {version}, expected {FORMAT_VERSION}")
        payload_start = _PREFIX.size + toolchain_len + _SUFFIX.size
        if len(data) < payload_start:
            raise _BadEntry(f"truncated header ({len(data)} bytes)")
        toolchain = data[_PREFIX.size : _PREFIX.size + toolchain_len]
        if toolchain != self._toolchain_bytes:
            raise _BadEntry(f"written by another toolchain ({toolchain.decode('utf-8', 'replace')!r})")
        payload_len, digest = _SUFFIX.unpack_from(data, _PREFIX.size + toolchain_len)
        payload = data[payload_start:]
        if len(payload) != payload_len:
            raise _BadEntry(f"payload is {len(payload)} bytes, header says {payload_len}")
        if hashlib.sha256(payload).digest() != digest:
            raise _BadEntry("payload checksum mismatch")
        return payload

    def _discard(self, path: Path, identity: tuple[int, ...]) -> None:
        """Remove a bad entry, unless another writer has replaced it since we read it."""
        try:
            if _identity(os.stat(path)) == identity:
                os.unlink(path)
        except OSError:
            pass

    # -- writing ---------------------------------------------------------------------------------

    def put(self, key: str, payload: bytes) -> None:
        """Store ``payload`` under ``key`` (atomically replacing any previous entry), then evict
        least-recently-used entries if the cache may have outgrown ``max_bytes``."""
        path = self.entry_path(key)
        if not self._writable:
            return
        payload = bytes(payload)
        header = (
            _PREFIX.pack(MAGIC, FORMAT_VERSION, len(self._toolchain_bytes))
            + self._toolchain_bytes
            + _SUFFIX.pack(len(payload), hashlib.sha256(payload).digest())
        )
        size = len(header) + len(payload)
        try:
            replaced = self._write_atomically(path, key, header, payload)
        except OSError as err:
            self._disable_writes(err)
            return
        if replaced is None:
            return  # another process holds the entry open (Windows); its copy is as good as ours
        self._account(size - replaced, path)

    def _write_atomically(self, path: Path, key: str, header: bytes, payload: bytes) -> int | None:
        """Write the entry through a temp file and ``os.replace``; the size of the entry it replaced
        (0 if none), or None if the replace was refused because a reader holds the file (Windows)."""
        parent = path.parent
        unique = f"{os.getpid()}-{threading.get_ident()}-{os.urandom(6).hex()}"
        temp = parent / f".{key}.{unique}{TEMP_SUFFIX}"
        for attempt in range(3):
            try:
                try:
                    f = open(temp, "xb")
                except FileNotFoundError:
                    # Lazily created; also recreated if someone removed the directory meanwhile.
                    os.makedirs(parent, exist_ok=True)
                    f = open(temp, "xb")
                with f:
                    f.write(header)
                    f.write(payload)
                try:
                    old_size = os.stat(path).st_size
                except OSError:
                    old_size = 0
                os.replace(temp, path)
                return old_size
            except FileNotFoundError:
                # ``clear`` or a user removed our temp file or directory mid-write: start again.
                _unlink_quietly(temp)
                if attempt == 2:
                    raise
            except PermissionError:
                _unlink_quietly(temp)
                if os.name == "nt" and path.exists():
                    return None
                raise
            except BaseException:
                _unlink_quietly(temp)
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _disable_writes(self, err: OSError) -> None:
        with self._lock:
            if not self._writable:
                return
            self._writable = False
        warnings.warn(
            f"numba-cfunc-compiler: the compile cache in {str(self.directory)!r} cannot be written "
            f"({type(err).__name__}: {err}); compiles continue without the cache",
            RuntimeWarning,
            stacklevel=3,  # the caller of put
        )

    # -- size bound ------------------------------------------------------------------------------

    def _account(self, added: int, just_written: Path) -> None:
        """Add ``added`` bytes to the running total; rescan and evict only if it may exceed the bound."""
        with self._lock:
            needs_scan = self._total is None  # first put of this instance: learn the real total
            if not needs_scan:
                self._total += added
                needs_scan = self._total > self.max_bytes
        if needs_scan:
            self._evict(just_written)

    def _evict(self, keep: Path) -> None:
        """Rescan; if over ``max_bytes``, remove the oldest entries (by mtime) until the total is
        under ``EVICT_TO_FRACTION * max_bytes``, never ``keep``. Races with other processes that
        delete the same files are expected and ignored."""
        if not self._evict_lock.acquire(blocking=False):
            return  # another thread of this instance is already evicting
        try:
            entries = self._scan()
            total = sum(e.size for e in entries)
            if total > self.max_bytes:
                target = int(self.max_bytes * EVICT_TO_FRACTION)
                for entry in sorted(entries, key=lambda e: e.mtime_ns):
                    if total <= target:
                        break
                    if entry.path == keep:
                        continue
                    try:
                        os.unlink(entry.path)
                    except FileNotFoundError:
                        pass  # someone else evicted it: the space is free all the same
                    except OSError:
                        continue  # in use (Windows) or not ours to remove: keep counting it
                    total -= entry.size
                    logger.debug("compile cache: evicted %s (%d bytes)", entry.path, entry.size)
            with self._lock:
                self._total = total
        finally:
            self._evict_lock.release()

    def _scan(self) -> list[_Entry]:
        """Every entry file under the directory (files only named like entries), with size and mtime."""
        entries: list[_Entry] = []
        for path, name in self._files():
            if not _is_entry_name(name):
                continue
            try:
                st = os.stat(path)
            except OSError:
                continue
            entries.append(_Entry(path, st.st_size, st.st_mtime_ns))
        return entries

    def _files(self) -> list[tuple[Path, str]]:
        """(path, name) of the files in the fan-out subdirectories; [] if the directory is unreadable."""
        found: list[tuple[Path, str]] = []
        try:
            with os.scandir(self.directory) as it:
                subdirs = [d for d in it if len(d.name) <= 2 and _KEY_RE.fullmatch(d.name)]
        except OSError:
            return found
        for subdir in subdirs:
            try:
                if not subdir.is_dir(follow_symlinks=False):
                    continue
                with os.scandir(subdir.path) as it:
                    found.extend((Path(f.path), f.name) for f in it if f.name.startswith((subdir.name, ".")))
            except OSError:
                continue
        return found

    # -- maintenance -----------------------------------------------------------------------------

    def info(self) -> CacheInfo:
        """How many entries the directory holds and their total size (a fresh scan)."""
        entries = self._scan()
        total = sum(e.size for e in entries)
        with self._lock:
            self._total = total
        return CacheInfo(self.directory, len(entries), total, self.max_bytes)

    def clear(self) -> int:
        """Remove every entry and stray temp file of this cache (nothing else); the number of
        entries removed."""
        removed = 0
        for path, name in self._files():
            is_entry = _is_entry_name(name)
            if not is_entry and _TEMP_RE.fullmatch(name) is None:
                continue
            try:
                os.unlink(path)
            except OSError:
                continue
            removed += is_entry
        with self._lock:
            self._total = 0
        return removed


def _is_entry_name(name: str) -> bool:
    return name.endswith(ENTRY_SUFFIX) and _KEY_RE.fullmatch(name[: -len(ENTRY_SUFFIX)]) is not None


def _identity(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
