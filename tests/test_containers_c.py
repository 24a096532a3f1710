"""Tests for the runtime's containers (ncc_containers.h): the C test program (also under
valgrind), the layout as compiled C sees it, and the Python host wrappers, with property tests
against Python's list and dict."""

from __future__ import annotations

import ctypes
import json
import math
import re
import shutil
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numba_rt
from numba_rt import Kind

C_DIR = Path(__file__).parent / "c"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def build(source: Path, out: Path, compiler: str = "cc", std: str = "-std=c11") -> str:
    """source compiled and linked against the installed header and library."""
    cc = shutil.which(compiler)
    if cc is None:
        pytest.fail(f"no `{compiler}` on PATH; a C compiler is needed to build the package anyway")
    lib_dir = str(Path(numba_rt.library_path()).parent)
    cmd = [
        cc, std, "-Wall", "-Wextra", "-Werror", "-pthread",
        f"-I{numba_rt.include_dir()}", str(source),
        f"-L{lib_dir}", "-lnumba_rt", f"-Wl,-rpath,{lib_dir}", "-o", str(out),
    ]  # fmt: skip
    result = run(cmd)
    assert result.returncode == 0, result.stderr
    return str(out)


# ---- the C test program ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def containers_binary(tmp_path_factory: pytest.TempPathFactory) -> str:
    """tests/c/test_containers.c compiled against the installed header and library."""
    out = tmp_path_factory.mktemp("c") / "test_containers.bin"
    return build(C_DIR / "test_containers.c", out)


def test_c_containers(containers_binary: str) -> None:
    result = run([containers_binary])
    assert result.returncode == 0, result.stderr


def test_c_containers_under_valgrind(containers_binary: str) -> None:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        pytest.skip("valgrind not on PATH (.ci/run installs it, so CI always runs this)")
    result = run([valgrind, "--error-exitcode=1", "--leak-check=full", containers_binary])
    assert result.returncode == 0, result.stderr


LAYOUT_PROBE = r"""
#include <stddef.h>
#include <stdio.h>
#include "ncc_containers.h"
#define F(t, f) printf("%s\"%s\": %zu", first ? "" : ", ", #f, offsetof(t, f)), first = 0
int main() {
    int first = 1;
    printf("{\"list\": {");
    F(ncc_list, len); F(ncc_list, capacity); F(ncc_list, data); F(ncc_list, kind);
    F(ncc_list, flags);
    first = 1;
    printf("}, \"dict\": {");
    F(ncc_dict, len); F(ncc_dict, used); F(ncc_dict, capacity); F(ncc_dict, mask);
    F(ncc_dict, index); F(ncc_dict, keys); F(ncc_dict, values); F(ncc_dict, live);
    F(ncc_dict, value_kind); F(ncc_dict, flags);
    printf("}, \"sizes\": [%zu, %zu], \"consts\": [%d, %d, %d, %d, %d, %d]}\n",
           sizeof(ncc_list), sizeof(ncc_dict), (int)NCC_KIND_INT, (int)NCC_KIND_FLOAT,
           (int)NCC_KIND_BOOL, (int)NCC_CONTAINER_READONLY, (int)NCC_SLOT_EMPTY,
           (int)NCC_SLOT_DELETED);
    ncc_list* l = ncc_list_new(NCC_KIND_INT, 0);
    ncc_list_append(l, 1);
    ncc_list_free(l);
    return (int)ncc_live_containers();
}
"""


@pytest.mark.parametrize(
    ("compiler", "suffix", "std"), [("cc", ".c", "-std=c11"), ("c++", ".cpp", "-std=c++11")]
)
def test_layout_seen_by_c_and_cxx(tmp_path: Path, compiler: str, suffix: str, std: str) -> None:
    """The Python layout constants match what C and C++ compilers make of the header."""
    if compiler == "c++" and shutil.which("c++") is None:
        pytest.skip("no C++ compiler (`c++`) on PATH")
    src = tmp_path / f"probe{suffix}"
    src.write_text(LAYOUT_PROBE)
    result = run([build(src, tmp_path / "probe.bin", compiler, std)])
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["list"] == dict(numba_rt.LIST_LAYOUT)
    assert seen["dict"] == dict(numba_rt.DICT_LAYOUT)
    assert seen["sizes"] == [numba_rt.LIST_SIZE, numba_rt.DICT_SIZE]
    assert seen["consts"] == [
        Kind.INT, Kind.FLOAT, Kind.BOOL,
        numba_rt.CONTAINER_READONLY, numba_rt.SLOT_EMPTY, numba_rt.SLOT_DELETED,
    ]  # fmt: skip


def test_kinds_match_header() -> None:
    header = (Path(numba_rt.include_dir()) / "ncc_containers.h").read_text()
    for kind in Kind:
        assert f"NCC_KIND_{kind.name} = {kind.value}" in header


def test_layout_is_read_only() -> None:
    with pytest.raises(TypeError):
        numba_rt.LIST_LAYOUT["len"] = 8  # type: ignore[index]
    with pytest.raises(TypeError):
        numba_rt.DICT_LAYOUT["mask"] = 0  # type: ignore[index]


# ---- Python host API ---------------------------------------------------------------------------


@pytest.fixture
def rt() -> Iterator[numba_rt.Runtime]:
    runtime = numba_rt.load()
    runtime.clear_error()
    baseline = runtime.live_containers()
    yield runtime
    assert runtime.live_containers() == baseline, "containers leaked"
    runtime.clear_error()


class ListStruct(ctypes.Structure):
    _fields_ = [
        ("len", ctypes.c_int64),
        ("capacity", ctypes.c_int64),
        ("data", ctypes.POINTER(ctypes.c_int64)),
        ("kind", ctypes.c_int32),
        ("flags", ctypes.c_int32),
    ]


class DictStruct(ctypes.Structure):
    _fields_ = [
        ("len", ctypes.c_int64),
        ("used", ctypes.c_int64),
        ("capacity", ctypes.c_int64),
        ("mask", ctypes.c_int64),
        ("index", ctypes.POINTER(ctypes.c_int64)),
        ("keys", ctypes.POINTER(ctypes.c_int64)),
        ("values", ctypes.POINTER(ctypes.c_int64)),
        ("live", ctypes.POINTER(ctypes.c_int64)),
        ("value_kind", ctypes.c_int32),
        ("flags", ctypes.c_int32),
    ]


def test_ctypes_structs_match_layout() -> None:
    for struct_type, layout, size in (
        (ListStruct, numba_rt.LIST_LAYOUT, numba_rt.LIST_SIZE),
        (DictStruct, numba_rt.DICT_LAYOUT, numba_rt.DICT_SIZE),
    ):
        offsets = {name: getattr(struct_type, name).offset for name, _ in struct_type._fields_}
        assert offsets == dict(layout)
        assert ctypes.sizeof(struct_type) == size


def hash_int(key: int) -> int:
    """ncc_hash_int, in Python."""
    x = key & (2**64 - 1)
    h = ((x ^ (x >> 32)) * 0x9E3779B97F4A7C15) & (2**64 - 1)
    return h ^ (h >> 32)


def check_dict_struct(ptr: int) -> DictStruct:
    """The documented invariants, read through the layout."""
    d = DictStruct.from_address(ptr)
    slots = d.mask + 1
    assert slots >= 8 and slots & (slots - 1) == 0
    assert 0 <= d.len <= d.used <= d.capacity < slots
    index = d.index[:slots]
    assert sum(slot != numba_rt.SLOT_EMPTY for slot in index) <= d.used
    live = d.live[: d.used]
    assert set(live) <= {0, 1} and sum(live) == d.len
    referenced = sorted(pos for pos in index if pos >= 0)
    assert referenced == [pos for pos in range(d.used) if live[pos]]
    for pos in referenced:  # every live key is found by the shared probe sequence
        slot = hash_int(d.keys[pos]) & d.mask
        while index[slot] != pos:
            assert index[slot] != numba_rt.SLOT_EMPTY
            slot = (slot + 1) & d.mask
    return d


SAMPLES = {
    Kind.INT: [0, 1, -1, INT64_MIN, INT64_MAX, 2**40, -(3 << 50)],
    Kind.FLOAT: [0.0, -0.0, 1.5, -2.25, math.inf, -math.inf, 5e-324, 1.7976931348623157e308],
    Kind.BOOL: [True, False, True, True],
}


def same(a: object, b: object) -> bool:
    """Equality that tells -0.0 from 0.0 and bool from int."""
    if isinstance(a, float) and isinstance(b, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("kind", list(Kind))
def test_list_round_trip(rt: numba_rt.Runtime, kind: Kind) -> None:
    values = SAMPLES[kind] * 5  # several growths
    ptr = rt.list_new(kind)
    try:
        assert rt.list_items(ptr) == []
        for value in values:
            rt.list_append(ptr, value)
        items = rt.list_items(ptr)
        assert len(items) == len(values) and all(map(same, items, values))
        assert same(rt.list_get(ptr, -1), values[-1]) and same(rt.list_get(ptr, 0), values[0])
        with pytest.raises(IndexError):
            rt.list_get(ptr, len(values))
        with pytest.raises(IndexError):
            rt.list_get(ptr, -len(values) - 1)
        view = ListStruct.from_address(ptr)  # the layout compiled code uses
        assert (view.len, view.kind, view.flags) == (len(values), kind, 0)
        assert view.capacity >= view.len and view.capacity & (view.capacity - 1) == 0
        assert view.data[0] == numba_rt.encode(kind, values[0])
        rt.list_clear(ptr)
        assert rt.list_items(ptr) == [] and view.len == 0
        assert rt.error() is None
    finally:
        rt.list_free(ptr)


@pytest.mark.parametrize("kind", list(Kind))
def test_dict_round_trip(rt: numba_rt.Runtime, kind: Kind) -> None:
    values = SAMPLES[kind]
    keys = [5, -5, INT64_MIN, INT64_MAX, 1 << 40, 3 << 48, 0, 17]
    ptr = rt.dict_new(kind)
    try:
        for key, value in zip(keys, values * 2):
            rt.dict_set(ptr, key, value)
        expected = list(zip(keys, values * 2))
        items = rt.dict_items(ptr)
        assert [k for k, _ in items] == [k for k, _ in expected]
        assert all(same(a, b) for (_, a), (_, b) in zip(items, expected))
        assert same(rt.dict_get(ptr, keys[1]), values[1])
        assert rt.dict_get(ptr, 12345) is None and rt.dict_get(ptr, 12345, "d") == "d"
        check_dict_struct(ptr)
        assert DictStruct.from_address(ptr).value_kind == kind
        assert rt.error() is None
    finally:
        rt.dict_free(ptr)


def test_float_nan_bits_round_trip(rt: numba_rt.Runtime) -> None:
    nan = struct.unpack("<d", struct.pack("<q", 0x7FF8_0000_DEAD_BEEF))[0]
    lst, dct = rt.list_new(Kind.FLOAT), rt.dict_new(Kind.FLOAT)
    try:
        rt.list_append(lst, nan)
        rt.dict_set(dct, 1, nan)
        for value in (rt.list_items(lst)[0], rt.dict_items(dct)[0][1]):
            assert struct.pack("<d", value) == struct.pack("<d", nan)
    finally:
        rt.list_free(lst)
        rt.dict_free(dct)


def test_dict_insertion_order_after_deletes(rt: numba_rt.Runtime) -> None:
    ptr = rt.dict_new(Kind.INT)
    reference: dict[int, int] = {}
    try:
        for i in range(1000):
            key = (i * 7919) % 1009 - 500
            rt.dict_set(ptr, key, i)
            reference[key] = i
        for key in list(reference)[::3]:
            assert rt.dict_del(ptr, key)
            del reference[key]
            assert not rt.dict_del(ptr, key)  # missing now
        deleted = [key for key in range(-500, 509) if key not in reference][:5]
        for key in [*deleted, 1 << 60, *list(reference)[:3]]:  # overwrites keep their place
            rt.dict_set(ptr, key, -key)
            reference[key] = -key
        assert list(reference)[-6:] == [*deleted, 1 << 60]  # (Python's own semantics)
        assert rt.dict_items(ptr) == list(reference.items())
        check_dict_struct(ptr)
        rt.dict_clear(ptr)
        assert rt.dict_items(ptr) == []
        rt.dict_set(ptr, 1, 2)
        assert rt.dict_items(ptr) == [(1, 2)]
        assert rt.error() is None
    finally:
        rt.dict_free(ptr)


def test_live_containers_back_to_baseline(rt: numba_rt.Runtime) -> None:
    baseline = rt.live_containers()
    ptrs = [rt.list_new(Kind.INT) for _ in range(3)] + [rt.dict_new(Kind.BOOL) for _ in range(2)]
    assert rt.live_containers() == baseline + 5
    for ptr in ptrs[:3]:
        rt.list_free(ptr)
    for ptr in ptrs[3:]:
        rt.dict_free(ptr)
    rt.list_free(None)
    rt.dict_free(None)
    assert rt.live_containers() == baseline


def test_encoding_errors(rt: numba_rt.Runtime) -> None:
    lst, dct = rt.list_new(Kind.INT), rt.dict_new(Kind.BOOL)
    try:
        with pytest.raises(OverflowError):
            rt.list_append(lst, 2**63)
        with pytest.raises(TypeError):
            rt.list_append(lst, 1.5)
        with pytest.raises(ValueError):
            rt.dict_set(dct, 1, 2)
        with pytest.raises(OverflowError):
            rt.dict_set(dct, -(2**63) - 1, True)
        assert rt.list_items(lst) == [] and rt.dict_items(dct) == []
    finally:
        rt.list_free(lst)
        rt.dict_free(dct)
    with pytest.raises(ValueError):
        rt.list_new(7)


def test_null_and_read_only(rt: numba_rt.Runtime) -> None:
    assert rt.list_items(None) == [] and rt.dict_items(None) == []
    with pytest.raises(ValueError, match="NULL"):
        rt.list_append(None, 1)  # type: ignore[arg-type]
    lst, dct = rt.list_new(Kind.INT), rt.dict_new(Kind.INT)
    try:
        rt.list_append(lst, 1)
        rt.dict_set(dct, 1, 1)
        ListStruct.from_address(lst).flags = numba_rt.CONTAINER_READONLY
        DictStruct.from_address(dct).flags = numba_rt.CONTAINER_READONLY
        for call in (
            lambda: rt.list_append(lst, 2),
            lambda: rt.list_clear(lst),
            lambda: rt.dict_set(dct, 2, 2),
            lambda: rt.dict_del(dct, 1),
            lambda: rt.dict_clear(dct),
        ):
            with pytest.raises(ValueError, match="constant"):
                call()
        assert rt.list_items(lst) == [1] and rt.dict_items(dct) == [(1, 1)]
        assert rt.error() is None
        # The C host API refuses too, through the error record.
        assert rt.lib.ncc_list_append(lst, 2) == -1
        assert rt.error() == (numba_rt.ErrorCode.STATE, "constant container cannot be modified", "")
    finally:
        rt.list_free(lst)
        rt.dict_free(dct)


def test_faults_through_python(rt: numba_rt.Runtime) -> None:
    rt.lib.ncc_fault_index(7, 3, b"node")
    assert rt.error() == (numba_rt.ErrorCode.INDEX, "list index 7 out of range (length 3)", "node")
    rt.lib.ncc_fault_key(42, b"other")  # first fault wins
    assert rt.error()[0] == numba_rt.ErrorCode.INDEX
    rt.clear_error()
    rt.lib.ncc_fault_key(42, None)
    assert rt.error() == (numba_rt.ErrorCode.KEY, "key 42 not found", "")
    rt.clear_error()
    rt.lib.ncc_fault_empty(b"pop from empty list", b"n")
    assert rt.error() == (numba_rt.ErrorCode.EMPTY, "pop from empty list", "n")
    rt.clear_error()
    rt.lib.ncc_fault_state(b"n")
    message = "container used before START or after STOP"
    assert rt.error() == (numba_rt.ErrorCode.STATE, message, "n")
    rt.clear_error()
    rt.lib.ncc_fault_readonly(b"n")
    assert rt.error() == (numba_rt.ErrorCode.STATE, "constant container cannot be modified", "n")
    assert (ctypes.c_char * 1).in_dll(rt.lib, "ncc_entry_unknown").value == b""


def test_jit_resolves_container_symbols(rt: numba_rt.Runtime) -> None:
    from llvmlite import binding

    for name in ("ncc_list_grow", "ncc_dict_grow", "ncc_fault_key", "ncc_entry_unknown"):
        assert binding.address_of_symbol(name) == ctypes.cast(
            getattr(rt.lib, name), ctypes.c_void_p
        ).value


# ---- property tests against Python's list and dict ---------------------------------------------

SPECIAL_KEYS = [INT64_MIN, INT64_MAX, -1, 1 << 40, 3 << 40, 1 << 48, 5 << 48, 1 << 62, -(1 << 62)]
keys = st.one_of(
    st.integers(-12, 40), st.sampled_from(SPECIAL_KEYS), st.integers(INT64_MIN, INT64_MAX)
)
VALUES = {
    Kind.INT: st.integers(INT64_MIN, INT64_MAX),
    Kind.FLOAT: st.floats(allow_nan=False),
    Kind.BOOL: st.booleans(),
}


# Bulk operations keep programs short (so failures shrink well) while still driving the
# containers through many growths and compactions. Strides of large powers of two give keys whose
# hashes collide in the index.
STRIDES = st.sampled_from([1, 1, 3, 1 << 40, 1 << 48, -(1 << 52)])


def key_range(start: int, count: int, stride: int) -> list[int]:
    return [k for k in (start + i * stride for i in range(count)) if INT64_MIN <= k <= INT64_MAX]


@st.composite
def dict_programs(draw: st.DrawFn) -> tuple[Kind, list[tuple]]:
    kind = draw(st.sampled_from(list(Kind)))
    op = st.one_of(
        st.tuples(st.just("set"), keys, VALUES[kind]),
        st.tuples(st.just("set_range"), st.integers(-20, 60), st.integers(0, 40), STRIDES,
                  VALUES[kind]),
        st.tuples(st.just("del"), keys),
        st.tuples(st.just("del_range"), st.integers(-20, 60), st.integers(0, 40), STRIDES),
        st.tuples(st.just("churn"), st.integers(-20, 60), st.integers(0, 60), STRIDES,
                  st.integers(1, 12), VALUES[kind]),
        st.tuples(st.just("get"), keys),
        st.tuples(st.just("check")),
        st.tuples(st.just("clear")),
    )  # fmt: skip
    return kind, draw(st.lists(op, max_size=60))


def run_dict_program(rt: numba_rt.Runtime, ptr: int, ops: list[tuple]) -> dict[int, object]:
    """Runs ops on the dict at ptr and on a Python dict, comparing as it goes; the Python dict."""
    model: dict[int, object] = {}
    for op in ops:
        if op[0] in ("set", "set_range"):
            value = op[-1]
            for key in [op[1]] if op[0] == "set" else key_range(*op[1:4]):
                rt.dict_set(ptr, key, value)
                model[key] = value
        elif op[0] in ("del", "del_range"):
            for key in [op[1]] if op[0] == "del" else key_range(*op[1:4]):
                assert rt.dict_del(ptr, key) == (key in model)
                model.pop(key, None)
        elif op[0] == "churn":  # a sliding window of keys: many deleted entries, few live
            _, start, count, stride, window, value = op
            window_keys = key_range(start, count, stride)
            for i, key in enumerate(window_keys):
                rt.dict_set(ptr, key, value)
                model[key] = value
                if i >= window and window_keys[i - window] in model:
                    assert rt.dict_del(ptr, window_keys[i - window])
                    del model[window_keys[i - window]]
        elif op[0] == "get":
            assert rt.dict_get(ptr, op[1], "missing") == model.get(op[1], "missing")
        elif op[0] == "check":
            assert rt.dict_items(ptr) == list(model.items())
            assert all(rt.dict_get(ptr, key) == value for key, value in model.items())
        else:
            rt.dict_clear(ptr)
            model.clear()
        assert rt.lib.ncc_dict_len(ptr) == len(model)
    return model


@settings(max_examples=200, deadline=None)
@given(dict_programs())
def test_dict_matches_python_dict(program: tuple[Kind, list[tuple]]) -> None:
    rt = numba_rt.load()
    kind, ops = program
    baseline = rt.live_containers()
    ptr = rt.dict_new(kind)
    try:
        model = run_dict_program(rt, ptr, ops)
        assert rt.dict_items(ptr) == list(model.items())
        check_dict_struct(ptr)
        assert rt.error() is None
    finally:
        rt.dict_free(ptr)
    assert rt.live_containers() == baseline


@st.composite
def list_programs(draw: st.DrawFn) -> tuple[Kind, list[tuple]]:
    kind = draw(st.sampled_from(list(Kind)))
    op = st.one_of(
        st.tuples(st.just("append"), VALUES[kind]),
        st.tuples(st.just("extend"), st.lists(VALUES[kind], max_size=40)),
        st.tuples(st.just("get"), st.integers(-40, 40)),
        st.tuples(st.just("get"), st.integers(INT64_MIN, INT64_MAX)),
        st.tuples(st.just("clear")),
    )
    return kind, draw(st.lists(op, max_size=60))


@settings(max_examples=200, deadline=None)
@given(list_programs())
def test_list_matches_python_list(program: tuple[Kind, list[tuple]]) -> None:
    rt = numba_rt.load()
    kind, ops = program
    baseline = rt.live_containers()
    ptr = rt.list_new(kind)
    model: list[object] = []
    try:
        for op in ops:
            if op[0] in ("append", "extend"):
                for value in [op[1]] if op[0] == "append" else op[1]:
                    rt.list_append(ptr, value)
                    model.append(value)
            elif op[0] == "get":
                try:
                    expected = model[op[1]]
                except IndexError:
                    with pytest.raises(IndexError):
                        rt.list_get(ptr, op[1])
                else:
                    assert rt.list_get(ptr, op[1]) == expected
            else:
                rt.list_clear(ptr)
                model.clear()
            assert rt.lib.ncc_list_len(ptr) == len(model)
        assert rt.list_items(ptr) == model
        view = ListStruct.from_address(ptr)
        assert view.len == len(model) <= view.capacity and view.kind == kind
        assert rt.error() is None
    finally:
        rt.list_free(ptr)
    assert rt.live_containers() == baseline


def test_header_documents_the_fixed_offsets() -> None:
    """The offsets in the header's comments agree with the Python constants."""
    header = (Path(numba_rt.include_dir()) / "ncc_containers.h").read_text()
    for name, layout in (("ncc_list", numba_rt.LIST_LAYOUT), ("ncc_dict", numba_rt.DICT_LAYOUT)):
        body = re.search(rf"typedef struct {name} \{{(.*?)\}} {name};", header, re.S)
        assert body is not None
        documented = {
            m.group(1): int(m.group(2))
            for m in re.finditer(r"\**(\w+);\s*/\* offset (\d+)", body.group(1))
        }
        assert documented == dict(layout)
