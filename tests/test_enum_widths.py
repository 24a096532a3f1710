"""Enum widths (SPEC §7 "Host breadth"): enums whose values do not fit their cell are rejected at
the user's line; a host registers the native width (8/16/32/64 bits) of an enum family, and the
cells of those enums hold int8/int16/int32/int64 in their low bytes. AOT round trip with a narrow
enum and an EnumSet output.

No ``from __future__ import annotations``: node annotations are evaluated when the node is defined.
"""

import ctypes
import enum
import sys
import threading

import pytest
from conftest import NCC_EXECUTE, NCC_START, rejected, started

from numba_cfunc_compiler import EnumSet, State
from numba_cfunc_compiler.aot import build_library
from numba_cfunc_compiler.compilation_context import CompilationContext
from numba_cfunc_compiler.defaults import register_all, register_enum_width, unregister_enum_width
from numba_cfunc_compiler.defaults.enums import EnumType, enum_width
from numba_cfunc_compiler.host import NodeRunner, Outputs, Signal, compile_node, output, ticked
from numba_cfunc_compiler.host.library import SlotCodec

CTYPES = {8: ctypes.c_int8, 16: ctypes.c_int16, 32: ctypes.c_int32, 64: ctypes.c_int64}


class Family(enum.IntEnum):  # a member-less base: the family whose width a host registers
    pass


class Side(Family):
    BUY = 1
    SELL = -1


class Level(Family):
    LOW = -100
    HIGH = 100


class Status(enum.Enum):  # a plain Enum family of its own
    OK = 0
    FAILED = 2**15 - 1  # fits int16, not int8


class Huge(enum.IntEnum):
    A = 1
    HUGE = 2**70


@pytest.fixture
def narrow():
    """A context derived from the current one in which Family is 8 bits wide."""
    with CompilationContext.current().derive() as ctx:
        register_enum_width(Family, 8)
        yield ctx


# -- registration ------------------------------------------------------------------------------


def test_registration_is_checked_and_context_scoped():
    with CompilationContext() as ctx:
        register_all()
        assert enum_width(Side) == 64
        register_enum_width(Family, 16)
        register_enum_width(Family, 16)  # the same again: nothing happens
        assert (enum_width(Side), enum_width(Level), enum_width(Family), enum_width(Status)) == (16, 16, 16, 64)
        register_enum_width(Side, 8)  # the nearest registered base decides
        assert (enum_width(Side), enum_width(Level)) == (8, 16)
        with pytest.raises(ValueError, match="Family already has 16 bits in this context; call unregister_enum_width"):
            register_enum_width(Family, 32)
        with pytest.raises(ValueError, match=r"bits must be one of \(8, 16, 32, 64\)"):
            register_enum_width(Status, 12)
        with pytest.raises(ValueError, match="bits must be one of"):
            register_enum_width(Status, True)
        with pytest.raises(
            ValueError, match=r"Status.FAILED = 32767 does not fit in the int8 cell of Status \(-128 .. 127\)"
        ):
            register_enum_width(Status, 8)
        with pytest.raises(TypeError, match="the family must be an Enum class"):
            register_enum_width(int, 8)
        with pytest.raises(TypeError, match="is not an int"):
            register_enum_width(enum.Enum("Named", {"A": "a"}), 8)
        with ctx.derive():  # a derived context starts with a copy; changing it changes only it
            unregister_enum_width(Side)
            assert enum_width(Side) == 16
        assert enum_width(Side) == 8
        unregister_enum_width(Side)
        unregister_enum_width(Family)
        assert enum_width(Side) == 64
        with pytest.raises(KeyError, match="no width is registered for 'Family'"):
            unregister_enum_width(Family)
    with CompilationContext():
        assert enum_width(Side) == 64  # another context never saw any of it


def test_contexts_in_threads_are_isolated():
    seen = {}

    def work(bits):
        with CompilationContext():
            register_all()
            register_enum_width(Family, bits)
            seen[bits] = enum_width(Side)

    threads = [threading.Thread(target=work, args=(bits,)) for bits in (8, 16, 32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {8: 8, 16: 16, 32: 32}


# -- narrow cells: NodeRunner and raw bytes ------------------------------------------------------


def position(side: Signal[Side], qty: Signal[int]) -> Outputs(size=Signal[int], last=Signal[Side], level=Signal[Level]):
    size: State[int] = 0
    last: State[Side] = Side.SELL
    if ticked(side):
        last = side
    size += last * qty
    output(size=size, last=last, level=Level.HIGH if size > 0 else Level.LOW)


def test_narrow_cells_through_the_runner(narrow):
    result = compile_node(position)
    abi = result.artifact.abi()
    assert [s["cell"] for s in abi["inputs"]] == ["int8", "int64"]
    assert [s["cell"] for s in abi["outputs"]] == ["int64", "int8", "int8"]
    assert [(s["cell"], s["initial"]) for s in abi["state"]] == [("int64", 0), ("int8", -1)]
    assert result.metadata["input_cell_types"] == ["int8", "int64"]
    runner = started(result)
    assert runner.execute(qty=3) == {"size": -3, "last": Side.SELL, "level": Level.LOW}
    assert runner.execute(side=Side.BUY, qty=5) == {"size": 2, "last": Side.BUY, "level": Level.HIGH}
    assert runner.state("last") == Side.BUY
    with pytest.raises(TypeError, match="input .side. of position takes Side, got int 7"):
        runner.execute(side=7)


def test_width_is_part_of_the_key_and_of_the_artifact(narrow):
    eight = compile_node(position)
    with CompilationContext.current().derive():
        unregister_enum_width(Family)
        register_enum_width(Family, 16)
        sixteen = compile_node(position)
    with CompilationContext.current().derive():
        unregister_enum_width(Family)
        wide = compile_node(position)
    keys = {eight.semantic_key, sixteen.semantic_key, wide.semantic_key}
    assert len(keys) == 3  # no shared compile between contexts of different widths
    assert [s["cell"] for s in sixteen.artifact.abi()["inputs"]] == ["int16", "int64"]
    assert [s["cell"] for s in wide.artifact.abi()["inputs"]] == ["int64", "int64"]
    for result in (eight, sixteen, wide):  # each runs correctly with its own cells
        assert started(result).execute(side=Side.BUY, qty=4) == {"size": 4, "last": Side.BUY, "level": Level.HIGH}


def flip(s: Signal[Status]) -> Outputs(back=Signal[Status], was_ok=Signal[bool]):
    mine: State[Status] = Status.FAILED
    was_ok = s == Status.OK
    mine = s
    output(back=mine, was_ok=was_ok)


@pytest.mark.parametrize("bits", [16, 32, 64])
def test_raw_cells_hold_the_low_bytes(bits):
    """The node reads only its width from an input cell and writes only its width of an output and
    a state cell: the other bytes stay what the host put there."""
    with CompilationContext.current().derive():
        register_enum_width(Status, bits)
        result = compile_node(flip)
    assert result.artifact.abi()["inputs"][0]["cell"] == f"int{bits}"
    size = bits // 8
    garbage = 0x5A
    cells = (ctypes.c_uint8 * 32)(*([garbage] * 32))  # output 0, output 1, state 0, input 0
    ptr = lambda i: ctypes.addressof(cells) + 8 * i  # noqa: E731
    params = result.cfunc_params
    fn = ctypes.CFUNCTYPE(None, *[ctypes.c_int8 if p.name == "lifecycle_phase" else ctypes.c_void_p for p in params])(
        result.address
    )
    outputs, state, inputs = (
        (ctypes.c_void_p * 2)(ptr(0), ptr(1)),
        (ctypes.c_void_p * 1)(ptr(2)),
        (ctypes.c_void_p * 1)(ptr(3)),
    )
    flags = (ctypes.c_int8 * 2)(1, 1)
    fn(outputs, flags, state, NCC_START, inputs, flags, flags)
    assert CTYPES[bits].from_buffer(cells, 16).value == Status.FAILED.value
    assert list(cells[16 + size : 24]) == [garbage] * (8 - size)
    for value in (Status.OK.value, Status.FAILED.value):
        CTYPES[bits].from_buffer(cells, 24).value = value  # the input: only its low bytes are the value
        fn(outputs, flags, state, NCC_EXECUTE, inputs, flags, flags)
        assert CTYPES[bits].from_buffer(cells, 0).value == value
        assert ctypes.c_int8.from_buffer(cells, 8).value == (value == Status.OK.value)
        assert list(cells[size:8]) == [garbage] * (8 - size), "the output cell's other bytes are the host's"
        assert CTYPES[bits].from_buffer(cells, 16).value == value


def test_int8_cells_of_a_registered_family(narrow):
    result = compile_node(position)
    cells = (ctypes.c_uint8 * 56)(*([0xA5] * 56))  # 3 outputs, 2 state, 2 inputs
    ptr = lambda i: ctypes.addressof(cells) + 8 * i  # noqa: E731
    fn = ctypes.CFUNCTYPE(
        None, *[ctypes.c_int8 if p.name == "lifecycle_phase" else ctypes.c_void_p for p in result.cfunc_params]
    )(result.address)
    outputs = (ctypes.c_void_p * 3)(ptr(0), ptr(1), ptr(2))
    state = (ctypes.c_void_p * 2)(ptr(3), ptr(4))
    inputs = (ctypes.c_void_p * 2)(ptr(5), ptr(6))
    ticks = (ctypes.c_int8 * 3)(1, 1, 1)
    fn(outputs, ticks, state, NCC_START, inputs, ticks, ticks)
    assert bytes(cells[32:40]) == b"\xff" + b"\xa5" * 7  # last: SELL (-1) in the low byte only
    ctypes.c_int64.from_buffer(cells, 24).value = 0  # size
    ctypes.c_int8.from_buffer(cells, 40).value = Side.BUY  # side: an int8, the host's bytes above it
    ctypes.c_int64.from_buffer(cells, 48).value = 9  # qty
    fn(outputs, ticks, state, NCC_EXECUTE, inputs, ticks, ticks)
    assert ctypes.c_int64.from_buffer(cells, 0).value == 9
    assert bytes(cells[8:16]) == b"\x01" + b"\xa5" * 7  # last: BUY
    assert bytes(cells[16:24]) == b"\x64" + b"\xa5" * 7  # level: HIGH (100)


# -- values that do not fit: errors at the user's line ----------------------------------------


def member_too_wide(x: Signal[int]) -> Signal[int]:
    return Huge.HUGE + x  # <- error


def input_too_wide(x: Signal[Huge]) -> Signal[int]:  # <- error
    return 1


def output_too_wide(x: Signal[int]) -> Signal[Huge]:
    if x > 0:
        return Huge.A  # <- error
    return


def state_too_wide(x: Signal[int]) -> Signal[int]:
    s: State[Huge] = Huge.A  # <- error
    return x


def constant_too_wide(x: Signal[int], h: Huge) -> Signal[int]:  # <- error
    return x


@pytest.mark.parametrize(
    "func, constants, at, message, hint",
    [
        (
            member_too_wide,
            {},
            "Huge.HUGE",
            "Huge.HUGE = 1180591620717411303424 does not fit in int64",
            "renumber the members",
        ),
        (
            input_too_wide,
            {},
            "x: Signal[Huge]",
            "input 'x': Huge.HUGE = 1180591620717411303424 does not fit in the int64 cell of Huge",
            "at most 64 bits",
        ),
        (output_too_wide, {}, "return", "does not fit in the int64 cell of Huge", None),
        (
            state_too_wide,
            {},
            "Huge.A",
            "initial value of state 's': Huge.HUGE = 1180591620717411303424 does not fit in the int64 cell",
            None,
        ),
        (
            constant_too_wide,
            {"h": Huge.A},
            "h: Huge",
            "constant parameter 'h': Huge.HUGE = 1180591620717411303424 does not fit",
            None,
        ),
    ],
)
def test_values_outside_int64_are_rejected_at_the_line(func, constants, at, message, hint):
    err = rejected(func, at=at, **constants)
    assert message in err.message, err.message
    if hint is not None:
        assert hint in err.hint, err.hint


def test_members_outside_a_registered_width_are_rejected_at_the_line():
    with CompilationContext.current().derive():
        register_enum_width(Family, 8)

        class Late(Family):  # defined after the registration: checked where a node uses it
            A = 1
            B = 1000

        late = EnumType.from_type(Late)
        assert late.bits == 8 and late.problem() == "Late.B = 1000 does not fit in the int8 cell of Late (-128 .. 127)"

        def late_input(x: Signal[Late]) -> Signal[int]:  # <- error
            return 1

        def late_state(x: Signal[int]) -> Signal[int]:
            s: State[Late] = Late.A  # <- error
            return x

        def late_output(x: Signal[int]) -> Signal[Late]:
            return Late.A  # <- error

        err = rejected(late_input, at="x: Signal[Late]")
        assert err.message == "input 'x': Late.B = 1000 does not fit in the int8 cell of Late (-128 .. 127)"
        assert "register a wider width with register_enum_width(family, bits)" in err.hint
        assert "does not fit in the int8 cell of Late" in rejected(late_state, at="Late.A").message
        assert "does not fit in the int8 cell of Late" in rejected(late_output, at="return").message
        assert Late.B.value == 1000  # members themselves are fine in code: constants are int64
        register_enum_width(Late, 16)  # the nearest registered base decides: now it fits
        assert started(compile_node(late_output)).execute(x=1) is Late.A


def test_slot_codec_of_narrow_cells():
    for bits in (8, 16, 32):
        var_type = EnumType(Status, None, bits) if bits > 8 else EnumType(Side, None, 8)
        slot = var_type.value_slot("v")
        assert slot.cell == f"int{bits}"
        members = var_type.python_type
        codec = SlotCodec(slot.type, slot.cell, members)
        for member in members:
            assert codec.host_encode(member) == var_type.host_encode(member)
            assert codec.host_decode(var_type.host_encode(member)) is member
        raw = SlotCodec(slot.type, slot.cell)  # no class named: the int value, range-checked
        assert raw.host_encode(2 ** (bits - 1) - 1) == 2 ** (bits - 1) - 1
        with pytest.raises(ValueError, match=f"does not fit in int{bits}"):
            raw.host_encode(2 ** (bits - 1))


# -- an AOT library: a narrow enum and an EnumSet output ---------------------------------------


class Color(enum.Enum):
    RED = 1
    GREEN = 2
    BLUE = 4


def palette(c: Signal[Color], side: Signal[Side]) -> Outputs(
    seen=Signal[EnumSet[Color]], last=Signal[Side], n=Signal[int]
):
    seen: State[EnumSet[Color]] = EnumSet[Color]([Color.BLUE])
    last: State[Side] = Side.BUY
    if ticked(c):
        seen.add(c)
    if ticked(side):
        last = side
    output(seen=seen, last=last, n=len(seen))


@pytest.mark.skipif(sys.platform != "linux", reason="AOT libraries are ELF shared objects")
def test_aot_round_trip(narrow, tmp_path):
    result = compile_node(palette)
    files = build_library([result], tmp_path, "enumnodes")
    import json

    node = json.loads(files.manifest.read_text())["nodes"][0]
    assert node["inputs"] == [
        {"name": "c", "type": "Color", "cell": "int64"},
        {"name": "side", "type": "Side", "cell": "int8"},
    ]
    assert node["outputs"][0] == {"name": "seen", "type": "EnumSet[Color]", "cell": "int64"}
    assert [(s["name"], s["cell"], s["initial"]) for s in node["state"]] == [("seen", "int64", 4), ("last", "int8", 1)]
    assert "last: Side, scalar, int8 cell" in files.header.read_text()

    local = started(result)
    typed = NodeRunner.from_library(files.library, "palette", types={"Color": Color, "Side": Side})
    typed.start()
    steps = [{"c": Color.RED}, {"side": Side.SELL}, {"c": Color.GREEN, "side": Side.BUY}, {"c": Color.RED}]
    for step in steps:
        assert typed.execute(**step) == local.execute(**step)
    assert typed.execute() == {"seen": {Color.RED, Color.GREEN, Color.BLUE}, "last": Side.BUY, "n": 3}
    assert type(typed.state("seen")) is EnumSet[Color] and typed.state("last") is Side.BUY

    raw = NodeRunner.from_library(files.library, "palette")  # no classes: values and masks
    raw.start()
    assert raw.execute(c=2, side=-1) == {"seen": 0b110, "last": -1, "n": 2}
    with pytest.raises(ValueError, match="does not fit in int8"):
        raw.execute(side=200)
