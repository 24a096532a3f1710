"""Structs behave like values (issue 11 item 5): a struct state or input is a *view* of host
memory that a local may alias, a conditional expression may pick, an ``@numba.njit`` helper may
take, read, write and return, and that is copied into a struct output. Each form runs through
`NodeRunner` and through the native entry point with buffers of our own; misuse is a
`CompilationError` at the user's line; a struct output survives an AOT library.

No ``from __future__ import annotations``: node annotations are evaluated when the node is defined.
"""

import ctypes
import enum
import json
import math
import re
import struct
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numba
import pytest
from conftest import rejected, started
from hypothesis import given, settings
from hypothesis import strategies as st

from numba_cfunc_compiler import State
from numba_cfunc_compiler.compilation_context import CompilationContext
from numba_cfunc_compiler.defaults.structs import StructField, StructType
from numba_cfunc_compiler.host import NodeRunner, NodeRuntimeError, Outputs, Signal, compile_node, output, start, ticked
from numba_cfunc_compiler.type_factory import TypeFactory

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Side(enum.IntEnum):
    BUY = 1
    SELL = -1


class Quote(ctypes.Structure):
    _fields_ = [
        ("bid", ctypes.c_double),
        ("ask", ctypes.c_float),
        ("size", ctypes.c_int32),
        ("side", ctypes.c_int8),
        ("live", ctypes.c_bool),
        ("time", ctypes.c_int64),
        ("venue", ctypes.c_char * 8),  # not visible to node code, but copied with the struct
    ]
    _ncc_field_types_ = {"side": Side, "time": datetime}


class Stats(ctypes.Structure):
    _fields_ = [("count", ctypes.c_int64), ("total", ctypes.c_double), ("last", ctypes.c_int64), ("crossed", ctypes.c_bool)]
    _ncc_field_types_ = {"last": datetime}


class Trade(ctypes.Structure):
    _fields_ = [("price", ctypes.c_double), ("qty", ctypes.c_int64)]


def ns(when: datetime) -> int:
    return (when - EPOCH) // timedelta(microseconds=1) * 1000


T0 = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


def quote(bid, ask, size=1, side=Side.BUY, live=True, time=T0, venue=b"XNAS"):
    return Quote(bid, ask, size, side, live, ns(time), venue)


def fields(struct) -> dict:
    return {name: getattr(struct, name) for name, *_ in struct._fields_}


# -- helpers the nodes call ------------------------------------------------------------------------
@numba.njit
def mid(q):
    return (q.bid + q.ask) / 2


@numba.njit
def pick(a, b):
    return a if a.bid > b.bid else b


@numba.njit
def record(stats, q):
    stats.count += 1
    stats.total += q.bid
    stats.last = q.time
    stats.crossed = q.bid > q.ask
    return stats


@numba.njit
def overwrite(q):
    q.bid = 0.0


@numba.njit
def misspelt(q):
    return q.bdi


# =============================================================================================
# Aliases
# =============================================================================================


def aliases(q: Signal[Quote], x: Signal[float]) -> Outputs(count=Signal[int], total=Signal[float], bid=Signal[float], crossed=Signal[bool]):
    stats: State[Stats]
    s = stats
    t = s  # an alias of an alias
    if ticked(q):
        t.count += 1
        s.total = s.total + q.bid
        t.last = q.time
        a = q  # an input alias: read-only, readable
        s.crossed = a.bid > a.ask
        output(bid=a.bid)
    if ticked(x):
        s.total *= x
    output(count=stats.count, total=stats.total, crossed=t.crossed)


@pytest.fixture(scope="module")
def aliases_result():
    return compile_node(aliases)


def test_writes_through_an_alias_change_the_state(aliases_result):
    runner = started(aliases_result)
    out = runner.execute(q=quote(2.0, 1.5))
    assert out == {"count": 1, "total": 2.0, "bid": 2.0, "crossed": True}
    out = runner.execute(q=quote(3.0, 4.0, time=T0 + timedelta(seconds=1)), x=0.5)
    assert out == {"count": 2, "total": 2.5, "bid": 3.0, "crossed": False}
    stats = runner.state("stats")
    assert (stats.count, stats.total, stats.last, stats.crossed) == (2, 2.5, ns(T0 + timedelta(seconds=1)), False)
    # the host changes its memory between calls: the aliases see it
    view = Stats.from_buffer(runner._state.buffers[0])
    view.count = 40
    assert runner.execute(x=1.0)["count"] == 40


def test_aliases_through_the_native_entry_point_with_our_own_buffers(aliases_result):
    stats, q, x = Stats(), quote(5.0, 4.0), ctypes.c_double(2.0)
    cells = [ctypes.c_int64(), ctypes.c_double(), ctypes.c_double(), ctypes.c_int8()]
    outputs = (ctypes.c_void_p * 4)(*[ctypes.addressof(c) for c in cells])
    ticked_out = (ctypes.c_int8 * 4)()
    state = (ctypes.c_void_p * 1)(ctypes.addressof(stats))
    inputs = (ctypes.c_void_p * 2)(ctypes.addressof(q), ctypes.addressof(x))
    input_ticked, input_valid = (ctypes.c_int8 * 2)(1, 1), (ctypes.c_int8 * 2)(1, 1)
    fn = aliases_result.compiled_func.ctypes
    fn(outputs, ticked_out, state, 1, inputs, input_ticked, input_valid)
    fn(outputs, ticked_out, state, 0, inputs, input_ticked, input_valid)
    assert list(ticked_out) == [1, 1, 1, 1]
    assert [c.value for c in cells] == [1, 10.0, 5.0, 1]
    assert (stats.count, stats.total, stats.last, stats.crossed) == (1, 10.0, ns(T0), True)
    assert (q.bid, q.ask) == (5.0, 4.0)  # the input was only read


def in_start_and_stop(x: Signal[int]) -> Signal[int]:
    stats: State[Stats]
    with start():
        s = stats
        s.count = 100
    s = stats
    s.count += x
    return s.count


def test_an_alias_in_start_and_in_execute():
    runner = started(compile_node(in_start_and_stop))
    assert runner.execute(x=1) == 101
    assert runner.execute(x=2) == 103


# =============================================================================================
# Helpers: reading, writing a state struct, returning one
# =============================================================================================


def helpers(a: Signal[Quote], b: Signal[Quote]) -> Outputs(
    mid=Signal[float], best_bid=Signal[float], count=Signal[int], crossed=Signal[bool], last=Signal[datetime]
):
    stats: State[Stats]
    best = pick(a, b)
    s = record(stats, best)  # a helper writes the state struct and returns it
    output(mid=mid(a), best_bid=best.bid, count=s.count, crossed=stats.crossed, last=s.last)


@pytest.fixture(scope="module")
def helpers_result():
    return compile_node(helpers)


def test_helpers_read_write_and_return_structs(helpers_result):
    runner = started(helpers_result)
    out = runner.execute(a=quote(1.0, 2.0), b=quote(1.5, 1.25, time=T0 + timedelta(minutes=1)))
    assert out == {"mid": 1.5, "best_bid": 1.5, "count": 1, "crossed": True, "last": T0 + timedelta(minutes=1)}
    out = runner.execute(a=quote(3.0, 4.0), b=quote(1.5, 1.0))
    assert out == {"mid": 3.5, "best_bid": 3.0, "count": 2, "crossed": False, "last": T0}
    stats = runner.state("stats")
    assert (stats.count, stats.total) == (2, 4.5)


def test_helpers_through_the_native_entry_point_with_our_own_buffers(helpers_result):
    stats, a, b = Stats(count=10), quote(-1.0, 1.0), quote(-2.0, -3.0)
    cells = [ctypes.c_double(), ctypes.c_double(), ctypes.c_int64(), ctypes.c_int8(), ctypes.c_int64()]
    outputs = (ctypes.c_void_p * 5)(*[ctypes.addressof(c) for c in cells])
    ticked_out = (ctypes.c_int8 * 5)()
    state = (ctypes.c_void_p * 1)(ctypes.addressof(stats))
    inputs = (ctypes.c_void_p * 2)(ctypes.addressof(a), ctypes.addressof(b))
    flags = (ctypes.c_int8 * 2)(1, 1)
    helpers_result.compiled_func.ctypes(outputs, ticked_out, state, 0, inputs, flags, flags)
    assert [c.value for c in cells] == [0.0, -1.0, 11, 0, ns(T0)]
    assert (stats.count, stats.total, stats.crossed) == (11, -1.0, False)


def chained(x: Signal[float]) -> Outputs(a=Signal[float], b=Signal[float], n=Signal[int]):
    first: State[Stats]
    second: State[Stats]
    first.total = second.total = x  # one value, two fields
    pick_state = first if x > 0 else second
    pick_state.count += 1
    (first if x > 0 else second).total += 1.0  # a field of a struct an expression picks
    output(a=first.total, b=second.total, n=first.count * 10 + second.count)


def later(a: Signal[Quote], b: Signal[Quote], gap: Signal[timedelta]) -> Signal[datetime]:
    best = a if a.bid > b.bid else b
    return best.time + gap  # datetime arithmetic through a picked struct: checked like any other


def test_datetime_fields_through_a_picked_struct_keep_their_overflow_check():
    runner = started(compile_node(later))
    assert runner.execute(a=quote(1.0, 2.0), b=quote(0.5, 2.0), gap=timedelta(hours=1)) == T0 + timedelta(hours=1)
    with pytest.raises(NodeRuntimeError, match="outside the int64-nanosecond range"):
        runner.execute(gap=timedelta(days=365 * 250))  # 2024 + 250 years: past 2262


def test_chained_assignment_and_fields_of_picked_structs():
    runner = started(compile_node(chained))
    assert runner.execute(x=2.0) == {"a": 3.0, "b": 2.0, "n": 10}
    assert runner.execute(x=-1.0) == {"a": -1.0, "b": 0.0, "n": 11}


# =============================================================================================
# Conditional expressions and struct outputs
# =============================================================================================


def best_quote(a: Signal[Quote], b: Signal[Quote]) -> Signal[Quote]:
    best = a if a.bid > b.bid else b
    if best.live:
        return best


def named(a: Signal[Quote], x: Signal[float]) -> Outputs(q=Signal[Quote], kept=Signal[Quote], spread=Signal[float]):
    kept: State[Quote]
    if ticked(a):
        k = kept
        k.bid = a.bid
        k.ask = a.ask
        k.side = a.side
        output(q=a, spread=a.ask - a.bid)
    if ticked(x):
        kept.bid += x
        output(kept=kept)


@pytest.fixture(scope="module")
def best_result():
    return compile_node(best_quote)


def test_a_struct_output_is_a_copy_of_the_struct(best_result):
    runner = started(best_result)
    a, b = quote(1.0, 2.0, size=3, venue=b"AAAA"), quote(1.5, 2.5, size=4, side=Side.SELL, venue=b"BBBB")
    out = runner.execute(a=a, b=b)
    assert isinstance(out, Quote) and out is not b
    assert bytes(out) == bytes(b)  # every byte, the fields node code cannot see included
    assert fields(out) == fields(b)
    b.bid = 0.5  # the copy does not follow the input
    assert out.bid == 1.5
    out = runner.execute(a=a, b=b)
    assert bytes(out) == bytes(a) and out.venue == b"AAAA"
    assert runner.execute(a=quote(1.0, 1.0, live=False), b=b) is None  # not ticked


def test_a_struct_output_is_described_by_its_size(best_result):
    artifact = best_result.artifact
    size = ctypes.sizeof(Quote)
    assert [(s.name, s.type, s.cell, s.size) for s in artifact.outputs] == [("output0", "Quote", "bytes", size)]
    assert [(s.name, s.cell, s.size) for s in artifact.inputs] == [("a", "bytes", size), ("b", "bytes", size)]
    data = json.loads(artifact.to_json())
    assert data["outputs"] == [{"name": "output0", "type": "Quote", "cell": "bytes", "size": size}]
    assert data["inputs"][0] == {"name": "a", "type": "Quote", "cell": "bytes", "size": size}


def test_a_struct_output_through_the_native_entry_point_with_our_own_buffers(best_result):
    a, b, out = quote(7.0, 8.0, venue=b"ours"), quote(6.0, 9.0), Quote()
    outputs = (ctypes.c_void_p * 1)(ctypes.addressof(out))
    ticked_out = (ctypes.c_int8 * 1)()
    inputs = (ctypes.c_void_p * 2)(ctypes.addressof(a), ctypes.addressof(b))
    flags = (ctypes.c_int8 * 2)(1, 1)
    state = (ctypes.c_void_p * 1)()
    best_result.compiled_func.ctypes(outputs, ticked_out, state, 0, inputs, flags, flags)
    assert ticked_out[0] == 1 and bytes(out) == bytes(a)


def test_node_runner_refuses_a_struct_of_another_type(best_result):
    runner = started(best_result)
    with pytest.raises(TypeError, match=r"input 'a' of best_quote takes Quote, got Trade"):
        runner.execute(a=Trade(1.0, 2), b=quote(1.0, 2.0))


def test_named_struct_outputs_tick_independently():
    runner = started(compile_node(named))
    out = runner.execute(a=quote(1.0, 1.25, side=Side.SELL))
    assert set(out) == {"q", "spread"} and out["spread"] == 0.25
    assert bytes(out["q"]) == bytes(quote(1.0, 1.25, side=Side.SELL))
    out = runner.execute(x=0.5)
    assert set(out) == {"kept"}
    assert (out["kept"].bid, out["kept"].ask, out["kept"].side, out["kept"].size) == (1.5, 1.25, Side.SELL, 0)
    assert runner.state("kept").bid == 1.5


class Pair:
    """A struct a host describes without ctypes: ``{bool on; uint16 n; float x;}`` in 8 bytes."""


@dataclass(frozen=True)
class PairType(StructType):
    @classmethod
    def is_type_supported(cls, var_type) -> bool:
        return var_type is Pair

    def _get_struct_fields(self) -> dict:
        return {"on": StructField(0, bool, "boolean"), "n": StructField(2, int, "uint16"), "x": StructField(4, float, "float32")}

    def _get_struct_size(self) -> int:
        return 8


def pair_node(v: Signal[float]) -> Signal[Pair]:
    p: State[Pair]
    q = p
    q.on = v > 0
    q.n += 1
    q.x = v
    return p


def test_a_struct_type_of_another_host_as_state_and_output():
    with CompilationContext.current().derive():
        TypeFactory.register(PairType)
        result = compile_node(pair_node)
    runner = started(result)
    out = runner.execute(v=1.5)
    assert isinstance(out, bytes) and struct.unpack("<?xHf", out) == (True, 1, 1.5)
    out = runner.execute(v=-0.25)
    assert struct.unpack("<?xHf", out) == (False, 2, -0.25)
    assert runner.state("p") == out
    memory = runner._state.buffers[0]
    ctypes.c_uint16.from_buffer(memory, 2).value = 65535  # the host's change: stored as uint16
    assert struct.unpack("<?xHf", runner.execute(v=2.0)) == (True, 0, 2.0)  # wraps, as in C


# =============================================================================================
# Round trips of every field type (hypothesis)
# =============================================================================================


class Every(ctypes.Structure):
    _fields_ = [
        ("i64", ctypes.c_int64), ("i32", ctypes.c_int32), ("i16", ctypes.c_int16), ("i8", ctypes.c_int8),
        ("u8", ctypes.c_uint8), ("f64", ctypes.c_double), ("f32", ctypes.c_float), ("flag", ctypes.c_bool),
        ("when", ctypes.c_int64), ("span", ctypes.c_int64), ("side", ctypes.c_int8),
    ]  # fmt: skip
    _ncc_field_types_ = {"when": datetime, "span": timedelta, "side": Side}


@numba.njit
def copy_every(dst, src):
    dst.i64 = src.i64
    dst.i32 = src.i32
    dst.i16 = src.i16
    dst.i8 = src.i8
    dst.u8 = src.u8
    dst.f64 = src.f64
    dst.f32 = src.f32
    dst.flag = src.flag
    dst.when = src.when
    dst.span = src.span
    dst.side = src.side


def every(src: Signal[Every]) -> Outputs(
    copy=Signal[Every], i32=Signal[int], u8=Signal[int], f32=Signal[float], flag=Signal[bool],
    when=Signal[datetime], span=Signal[timedelta], side=Signal[Side],
):
    by_alias: State[Every]
    by_helper: State[Every]
    d = by_alias
    d.i64 = src.i64
    d.i32 = src.i32
    d.i16 = src.i16
    d.i8 = src.i8
    d.u8 = src.u8
    d.f64 = src.f64
    d.f32 = src.f32
    d.flag = src.flag
    d.when = src.when
    d.span = src.span
    d.side = src.side
    copy_every(by_helper, src)
    picked = by_alias if src.flag else by_helper
    output(copy=picked, i32=d.i32, u8=d.u8, f32=d.f32, flag=d.flag, when=d.when, span=d.span, side=d.side)


def _int(bits, signed=True):
    return st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else st.integers(0, 2**bits - 1)


nanoseconds = st.integers(-(2**63) + 1, 2**63 - 1)
every_values = st.builds(
    Every, _int(64), _int(32), _int(16), _int(8), _int(8, signed=False),
    st.floats(allow_nan=False), st.floats(width=32, allow_nan=False), st.booleans(),
    nanoseconds, nanoseconds, st.sampled_from(Side),
)  # fmt: skip


@pytest.fixture(scope="module")
def every_runner():
    return started(compile_node(every))


@settings(max_examples=60, deadline=None)
@given(src=every_values)
def test_every_field_type_round_trips_through_an_alias_a_helper_and_an_output(every_runner, src):
    out = every_runner.execute(src=src)
    assert fields(every_runner.state("by_alias")) == fields(src)
    assert fields(every_runner.state("by_helper")) == fields(src)
    assert bytes(out["copy"]) == bytes(src)
    assert (out["i32"], out["u8"], out["f32"], out["flag"], out["side"]) == (src.i32, src.u8, src.f32, src.flag, Side(src.side))
    assert out["flag"] is bool(src.flag) and out["side"] is Side(src.side)
    assert out["when"] == EPOCH + timedelta(microseconds=src.when // 1000)
    assert out["span"] == timedelta(microseconds=src.span // 1000)


def test_special_floats_round_trip(every_runner):
    src = Every(f64=math.inf, f32=-math.inf, side=Side.BUY)
    out = every_runner.execute(src=src)
    assert (out["copy"].f64, out["copy"].f32, out["f32"]) == (math.inf, -math.inf, -math.inf)
    src = Every(f64=math.nan, f32=math.nan, side=Side.SELL)
    out = every_runner.execute(src=src)
    assert math.isnan(out["copy"].f64) and math.isnan(out["f32"]) and math.isnan(every_runner.state("by_alias").f32)


# =============================================================================================
# Field access through a view compiles to the same loads and stores as direct access
# =============================================================================================


def direct(x: Signal[float], q: Signal[Quote]) -> Signal[float]:
    stats: State[Stats]
    stats.count += 1
    stats.total += x * q.size
    return stats.total - stats.count


def through_alias(x: Signal[float], q: Signal[Quote]) -> Signal[float]:
    stats: State[Stats]
    s = stats
    a = q
    s.count += 1
    s.total += x * a.size
    return s.total - s.count


@numba.njit
def accumulate(stats, x, q):
    stats.count += 1
    stats.total += x * q.size
    return stats.total - stats.count


def through_helper(x: Signal[float], q: Signal[Quote]) -> Signal[float]:
    stats: State[Stats]
    return accumulate(stats, x, q)


def instructions(llvm_ir: str) -> list[str]:
    """The entry point's instructions, names and metadata left out, sorted."""
    body = llvm_ir[llvm_ir.index("define "):]
    body = body[: body.index("\n}\n")]
    found = []
    for line in body.splitlines()[1:]:
        if line.startswith("  ") and not line.strip().startswith(";"):
            text = re.sub(r"%[\w.\-]+", "%v", line.strip())
            found.append(re.sub(r",? !\w+ !\d+", "", text))
    return sorted(found)


def test_a_view_compiles_to_the_same_loads_and_stores_as_direct_field_access():
    expected = instructions(compile_node(direct).llvm_ir)
    assert sum(1 for i in expected if i.startswith(("load", "%v = load"))) >= 4
    assert instructions(compile_node(through_alias).llvm_ir) == expected
    assert instructions(compile_node(through_helper).llvm_ir) == expected
    runner = started(compile_node(through_helper))
    assert runner.execute(x=1.5, q=quote(1.0, 1.0, size=4)) == 5.0


# =============================================================================================
# Misuse: CompilationErrors at the user's line
# =============================================================================================


def unknown_field_of_alias(q: Signal[Quote]) -> Signal[float]:
    a = q
    return a.bdi  # <- error


def unknown_field_of_picked(a: Signal[Quote], b: Signal[Quote]) -> Signal[float]:
    best = a if a.bid > b.bid else b
    best.bdi = 1.0  # <- error
    return 1.0


def unknown_field_in_helper(q: Signal[Quote]) -> Signal[float]:
    return misspelt(q)  # <- error


def unknown_field_of_state(x: Signal[float]) -> Signal[float]:
    stats: State[Stats]
    stats.totl += x  # <- error
    return x


def test_unknown_fields_say_which_field_was_meant():
    for node, at in ((unknown_field_of_alias, "a.bdi"), (unknown_field_of_picked, "best.bdi")):
        err = rejected(node, at=at)
        assert "'bdi'" in err.message and "did you mean 'bid'?" in err.message
    err = rejected(unknown_field_in_helper)
    assert "has no field 'bdi'; did you mean 'bid'?" in err.message
    err = rejected(unknown_field_of_state, at="stats.totl")
    assert "did you mean 'total'?" in err.message and "count, total, last, crossed" in err.hint


def write_input_through_alias(q: Signal[Quote]) -> Signal[float]:
    a = q
    b = a
    b.bid += 1.0  # <- error
    return 1.0


def write_input_through_picked(q: Signal[Quote]) -> Signal[float]:
    kept: State[Quote]
    best = kept if kept.bid > q.bid else q
    best.size = 3  # <- error
    return 1.0


def write_input_in_helper(q: Signal[Quote]) -> Signal[float]:
    overwrite(q)  # <- error
    return 1.0


def write_input_picked_by_a_helper(q: Signal[Quote]) -> Signal[float]:
    kept: State[Quote]
    best = pick(kept, q)  # a state struct or an input: read-only
    best.bid = 1.0  # <- error
    return 1.0


def test_writing_a_field_of_an_input_struct_is_an_error_however_it_is_reached():
    err = rejected(write_input_through_alias, at="b.bid")
    assert err.message.startswith("input struct 'q' is read-only (written through 'b')")
    err = rejected(write_input_through_picked, at="best.size")
    assert "input struct 'q' is read-only" in err.message
    for node in (write_input_in_helper, write_input_picked_by_a_helper):
        err = rejected(node)
        assert "cannot write field" in err.message and "input structs are read-only" in err.message, err.message


def struct_into_scalar_output(q: Signal[Quote]) -> Outputs(bid=Signal[float]):
    output(bid=q)  # <- error


def other_struct_into_struct_output(t: Signal[Trade]) -> Signal[Quote]:
    return t  # <- error


def value_into_struct_output(x: Signal[float]) -> Outputs(q=Signal[Quote]):
    output(q=x)  # <- error


def test_outputs_take_only_structs_of_their_own_type():
    err = rejected(struct_into_scalar_output, at="q")
    assert err.message == "a Quote(read-only) value cannot be stored in float output 'bid'"
    err = rejected(other_struct_into_struct_output)
    assert "a Trade(read-only) value cannot be stored where a Quote is expected" in err.message
    err = rejected(value_into_struct_output)
    assert err.message == "a float value cannot be stored where a Quote is expected"


def rebind_state(q: Signal[Quote]) -> Signal[float]:
    kept: State[Quote]
    kept = q  # <- error
    return 1.0


def rebind_input(q: Signal[Quote], r: Signal[Quote]) -> Signal[float]:
    q = r  # <- error
    return 1.0


def alias_rebound_to_a_value(q: Signal[Quote]) -> Signal[float]:
    a = q
    a = 1.0  # <- error
    return a


def float_into_int_field(x: Signal[float]) -> Signal[float]:
    stats: State[Stats]
    s = stats
    s.count = x  # <- error
    return x


def walrus_struct(q: Signal[Quote]) -> Signal[float]:
    if (a := q).bid > 0:  # <- error
        return 1.0


def test_rebinding_and_lossy_stores_are_errors():
    err = rejected(rebind_state, at="kept")
    assert err.message == "state struct 'kept' cannot be rebound: it is host memory"
    assert "kept.field = other.field" in err.hint and "struct output" in err.hint
    err = rejected(rebind_input, at="q")
    assert err.message == "input struct 'q' cannot be rebound: it is host memory"
    err = rejected(alias_rebound_to_a_value)
    assert "alias of Quote 'q'" in err.message and "not a struct" in err.message
    err = rejected(float_into_int_field)
    assert err.message == "a float value cannot be stored where an int is expected"
    err = rejected(walrus_struct)
    assert err.message == "a struct cannot be bound with the walrus operator"


# =============================================================================================
# AOT: a struct output in a library, driven without the compiler
# =============================================================================================


@pytest.mark.skipif(sys.platform != "linux", reason="AOT libraries are ELF shared objects")
def test_a_struct_output_survives_an_aot_library(tmp_path):
    from numba_cfunc_compiler.aot import build_library

    helpers_node, best_node = compile_node(helpers), compile_node(best_quote)
    built = build_library([helpers_node, best_node], tmp_path, "structs")
    manifest = json.loads(built.manifest.read_text())
    entry = next(n for n in manifest["nodes"] if n["native_name"] == best_node.native_name)
    size = ctypes.sizeof(Quote)
    assert entry["outputs"] == [{"name": "output0", "type": "Quote", "cell": "bytes", "size": size}]
    header = built.header.read_text()
    assert f" *     [0] output0: Quote, bytes cell, {size} bytes\n" in header
    assert f" *     [1] b: Quote, bytes cell, {size} bytes\n" in header

    runner = NodeRunner.from_library(built.library, "best_quote", types={"Quote": Quote})
    runner.start()
    a, b = quote(1.0, 2.0, venue=b"lib"), quote(0.5, 2.0)
    out = runner.execute(a=a, b=b)
    assert isinstance(out, Quote) and bytes(out) == bytes(a)
    assert runner.execute(a=quote(1.0, 2.0, live=False), b=b) is None
    raw = NodeRunner.from_library(built.library, best_node.native_name)  # no class: the bytes
    raw.start()
    assert raw.execute(a=a, b=b) == bytes(a)

    runner = NodeRunner.from_library(built.library, "helpers", types={"Stats": Stats})
    runner.start()
    out = runner.execute(a=quote(1.0, 2.0), b=quote(3.0, 2.5))
    assert out["mid"] == 1.5 and out["best_bid"] == 3.0 and out["crossed"] is True
    assert runner.state("stats").total == 3.0

    # the library's entry point called by address, with buffers of our own (as a C host does)
    lib = ctypes.CDLL(str(built.library))
    fn = ctypes.CFUNCTYPE(None, *([ctypes.c_void_p] * 3 + [ctypes.c_int8] + [ctypes.c_void_p] * 3))(
        ctypes.cast(getattr(lib, best_node.native_name), ctypes.c_void_p).value
    )
    out = Quote()
    outputs, ticked_out = (ctypes.c_void_p * 1)(ctypes.addressof(out)), (ctypes.c_int8 * 1)()
    inputs, flags = (ctypes.c_void_p * 2)(ctypes.addressof(b), ctypes.addressof(a)), (ctypes.c_int8 * 2)(1, 1)
    fn(outputs, ticked_out, (ctypes.c_void_p * 1)(), 0, inputs, flags, flags)
    assert ticked_out[0] == 1 and bytes(out) == bytes(a)
