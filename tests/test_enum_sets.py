"""``EnumSet[E]`` (SPEC §7 "Host breadth"): a set of enum members in one 8-byte cell, bit i = the
i-th member. Every operation through `NodeRunner` and through raw addresses with our own cells;
hypothesis properties against Python sets; misuse errors at the user's line.

No ``from __future__ import annotations``: node annotations are evaluated when the node is defined.
"""

import ctypes
import enum
import pickle

import numba
import pytest
from conftest import NCC_EXECUTE, NCC_START, NCC_STOP, DirectNode, compile_direct, rejected, started
from hypothesis import given, settings
from hypothesis import strategies as st

from numba_rt.abi import ErrorCode
from numba_cfunc_compiler import EnumSet, State
from numba_cfunc_compiler.defaults.enum_sets import EnumSetType
from numba_cfunc_compiler.host import NodeRunner, NodeRuntimeError, Outputs, Signal, compile_node, output, ticked
from numba_cfunc_compiler.host.library import SlotCodec, codec_for


class Color(enum.Enum):  # values are not bit positions: bit i is the i-th member
    RED = 10
    GREEN = 20
    BLUE = 5
    BLACK = -3


class Side(enum.IntEnum):
    BUY = 1
    SELL = -1


class Day(enum.IntEnum):  # contiguous values
    MON = 0
    TUE = 1
    WED = 2
    THU = 3
    FRI = 4


Wide = enum.IntEnum("Wide", [f"W{i}" for i in range(64)], start=100)  # 64 members: bit 63 is used
TooMany = enum.Enum("TooMany", [f"T{i}" for i in range(65)])


class Huge(enum.Enum):
    SMALL = 1
    HUGE = 2**70


class Named(enum.Enum):
    A = "a"


ALL_DAYS = EnumSet[Day](Day)  # a module-level set is a constant in node code
WEEKEND_FREE = EnumSet[Day]([Day.MON, Day.FRI])
C = EnumSet[Color]


# -- the Python value --------------------------------------------------------------------------


def test_the_python_class():
    assert EnumSet[Color] is EnumSet[Color] and issubclass(EnumSet[Color], frozenset)
    assert repr(EnumSet[Color]) == "<class 'EnumSet[Color]'>" and EnumSet[Color].__name__ == "EnumSet[Color]"
    s = C([Color.BLACK, Color.RED, 5])  # an int that is a member's value stands for the member
    assert repr(s) == "EnumSet[Color]({Color.RED, Color.BLUE, Color.BLACK})" and repr(C()) == "EnumSet[Color]()"
    assert list(s) == [Color.RED, Color.BLUE, Color.BLACK]  # member order, whatever the input order
    assert s == {Color.RED, Color.BLUE, Color.BLACK} and hash(s) == hash(frozenset(s))
    assert s.mask == 0b1101 and s.cell_value == 0b1101 and C.members() == tuple(Color)
    assert C.from_mask(0b1101) == s and C.from_mask(-1) == C(Color) and C.from_mask(1 << 40) == C()
    for op, expected in (
        (s | {Color.GREEN}, C(Color)),
        (s & C([Color.RED]), {Color.RED}),
        (s - {Color.RED}, {Color.BLUE, Color.BLACK}),
        (s ^ C([Color.RED, Color.GREEN]), {Color.GREEN, Color.BLUE, Color.BLACK}),
    ):
        assert type(op) is C and op == expected
    every = EnumSet[Wide](Wide)
    assert every.mask == 2**64 - 1 and every.cell_value == -1 and EnumSet[Wide].from_mask(-(2**63)) == {Wide.W63}
    assert pickle.loads(pickle.dumps(s)) == s and type(pickle.loads(pickle.dumps(s))) is C
    assert pickle.loads(pickle.dumps(C)) is C and pickle.loads(pickle.dumps(EnumSet)) is EnumSet


@pytest.mark.parametrize(
    "bad, message",
    [
        (int, "int is not an Enum class"),
        (TooMany, "TooMany has 65 members; an EnumSet holds at most 64"),
        (Huge, r"Huge.HUGE = 1180591620717411303424 does not fit in int64"),
        (Named, "Named.A has the value 'a'; every value must be an int"),
    ],
)
def test_bad_enum_classes(bad, message):
    with pytest.raises(TypeError, match=message):
        EnumSet[bad]


def test_bad_members_and_values():
    with pytest.raises(TypeError, match="EnumSet needs its enum class"):
        EnumSet([Color.RED])
    with pytest.raises(TypeError, match=r"EnumSet\[Color\] holds members of Color; <Side.BUY: 1> is not one"):
        C([Side.BUY])
    with pytest.raises(TypeError, match="7 is not one"):
        C([7])
    with pytest.raises(TypeError, match="takes an iterable"):
        C(3)
    with pytest.raises(TypeError, match="already an EnumSet"):
        EnumSet[Color][Color]


# -- every operation, through NodeRunner -------------------------------------------------------


@numba.njit
def _members_at_least(s, low):
    """An @njit helper iterating a set (values of its members)."""
    n = 0
    for m in s:
        if m >= low:
            n += 1
    return n


@numba.njit
def _same_set(s):
    return s | (s ^ s)  # a set returned from a helper keeps its type


def operations(
    a: Signal[EnumSet[Color]], b: Signal[EnumSet[Color]], c: Signal[Color], fixed: EnumSet[Color]
) -> Outputs(
    union=Signal[EnumSet[Color]],
    both=Signal[EnumSet[Color]],
    diff=Signal[EnumSet[Color]],
    sym=Signal[EnumSet[Color]],
    eq=Signal[bool],
    ne=Signal[bool],
    truth=Signal[bool],
    falsity=Signal[bool],
    size=Signal[int],
    has=Signal[bool],
    lacks=Signal[bool],
    order=Signal[int],
    local=Signal[EnumSet[Color]],
    helper=Signal[int],
    picked=Signal[EnumSet[Color]],
):
    seen: State[EnumSet[Color]] = EnumSet[Color]([Color.BLACK])
    seen.add(c)
    order = 0
    for m in a | b:  # member order, each member's value
        order = order * 100 + m + 3
    local = EnumSet[Color]([c, Color.GREEN])
    local.discard(Color.GREEN)
    local |= fixed
    local.add(Color.BLUE)
    if not b:
        local.clear()
    picked = a if len(a) >= len(b) else b
    output(
        union=a | b,
        both=a & b,
        diff=a - b,
        sym=a ^ b,
        eq=a == b,
        ne=a != b,
        truth=bool(a),
        falsity=not a,
        size=len(a),
        has=c in a,
        lacks=c not in a,
        order=order,
        local=_same_set(local),
        helper=_members_at_least(a | seen, 6),
        picked=picked,
    )


@pytest.fixture(scope="module")
def operations_result():
    return compile_node(operations, fixed=C([Color.RED]))


def expected_operations(a, b, c, fixed, seen):
    a, b = C(a), C(b)
    order = 0
    for m in a | b:
        order = order * 100 + m.value + 3
    local = ((C([c]) - {Color.GREEN}) | fixed | {Color.BLUE}) if b else C()
    return {
        "union": a | b,
        "both": a & b,
        "diff": a - b,
        "sym": a ^ b,
        "eq": a == b,
        "ne": a != b,
        "truth": bool(a),
        "falsity": not a,
        "size": len(a),
        "has": c in a,
        "lacks": c not in a,
        "order": order,
        "local": local,
        "helper": sum(1 for m in a | seen if m.value >= 6),
        "picked": a if len(a) >= len(b) else b,
    }


def test_every_operation_through_the_runner(operations_result):
    runner = started(operations_result)
    assert runner.state("seen") == {Color.BLACK} and operations_result.state_values == [0b1000]
    fixed, seen = C([Color.RED]), C([Color.BLACK])
    for a, b, c in [
        ({Color.RED, Color.BLUE}, {Color.BLUE, Color.BLACK}, Color.RED),
        (C(), C(), Color.GREEN),
        (C(Color), [Color.GREEN], Color.BLACK),
        ([10, 20], C([Color.RED, Color.GREEN]), Color.BLUE),  # member values stand for members
    ]:
        seen = seen | {c}
        got = runner.execute(a=a, b=b, c=c)
        assert got == expected_operations(a, b, c, fixed, seen)
        assert all(type(got[k]) is C for k in ("union", "both", "diff", "sym", "local", "picked"))
        assert runner.state("seen") == seen
    with pytest.raises(TypeError, match=r"input 'a' of operations takes EnumSet\[Color\], got set \{<Side.BUY: 1>\}"):
        runner.execute(a={Side.BUY})
    runner.stop()


def test_the_artifact(operations_result):
    abi = operations_result.artifact.abi()
    assert abi["inputs"][0] == {"name": "a", "type": "EnumSet[Color]", "cell": "int64"}
    assert abi["outputs"][0] == {"name": "union", "type": "EnumSet[Color]", "cell": "int64"}
    assert abi["state"] == [
        {"name": "seen", "kind": "scalar", "cell": "int64", "size": 8, "initial": 8, "type": "EnumSet[Color]"}
    ]


def via_helper(a: Signal[EnumSet[Color]], b: Signal[EnumSet[Color]]) -> Outputs(
    d=Signal[EnumSet[Color]], same=Signal[bool], again=Signal[EnumSet[Color]]
):
    x = _same_set(a)  # a local whose type only Numba knows
    again = x
    again -= b
    output(d=x - b, same=x == a, again=again)


def test_sets_from_helpers_combine_like_any_set():
    runner = started(compile_node(via_helper))
    got = runner.execute(a={Color.RED, Color.BLUE}, b={Color.BLUE, Color.GREEN})
    assert got == {"d": {Color.RED}, "same": True, "again": {Color.RED}}


# -- raw addresses: our own cells, the C layout ------------------------------------------------


def raw_union(a: Signal[EnumSet[Wide]], x: Signal[Wide]) -> Outputs(
    s=Signal[EnumSet[Wide]], n=Signal[int], first=Signal[int]
):
    s: State[EnumSet[Wide]] = EnumSet[Wide]([Wide.W63])
    s = s | a
    s.add(x)
    first = -1
    for m in s:
        if first == -1:
            first = m
    output(s=s, n=len(s), first=first)


def test_raw_cells_hold_the_bit_mask():
    result = compile_node(raw_union)
    fn = ctypes.CFUNCTYPE(
        None, *[ctypes.c_int8 if p.name == "lifecycle_phase" else ctypes.c_void_p for p in result.cfunc_params]
    )(result.address)
    outs, state, inputs = (ctypes.c_int64 * 3)(), (ctypes.c_int64 * 1)(), (ctypes.c_int64 * 2)()
    ptrs = lambda cells: (ctypes.c_void_p * len(cells))(*[ctypes.addressof(cells) + 8 * i for i in range(len(cells))])  # noqa: E731
    out_ptrs, state_ptrs, in_ptrs = ptrs(outs), ptrs(state), ptrs(inputs)
    ticked_out, ticked_in, valid_in = (ctypes.c_int8 * 3)(), (ctypes.c_int8 * 2)(1, 1), (ctypes.c_int8 * 2)(1, 1)

    def call(phase):
        fn(out_ptrs, ticked_out, state_ptrs, phase, in_ptrs, ticked_in, valid_in)

    call(NCC_START)
    assert state[0] == -(2**63)  # bit 63: W63
    inputs[0] = (1 << 3) | (1 << 5) | (0x3 << 61) - 2**63  # bits 3 and 5; 61, 62, 63 (negative)
    inputs[1] = Wide.W0.value  # an enum cell holds the member's value: bit 0
    call(NCC_EXECUTE)
    assert list(ticked_out) == [1, 1, 1]
    expected = (1 << 0) | (1 << 3) | (1 << 5) | (0x7 << 61)
    assert outs[0] == expected - 2**64 and state[0] == outs[0] and outs[1] == 6 and outs[2] == Wide.W0.value
    assert EnumSet[Wide].from_mask(outs[0]) == {Wide.W0, Wide.W3, Wide.W5, Wide.W61, Wide.W62, Wide.W63}
    call(NCC_STOP)


def contains_raw(s: Signal[EnumSet[Color]], c: Signal[Color]) -> Outputs(
    has=Signal[bool], n=Signal[int], back=Signal[EnumSet[Color]]
):
    output(has=c in s, n=len(s), back=s)


def test_raw_bits_above_the_members_are_ignored():
    """A C host's stray bits never name a member: the node masks them."""
    result = compile_node(contains_raw)
    cells = (ctypes.c_int64 * 5)()
    ptr = lambda i: ctypes.addressof(cells) + 8 * i  # noqa: E731
    fn = ctypes.CFUNCTYPE(
        None, *[ctypes.c_int8 if p.name == "lifecycle_phase" else ctypes.c_void_p for p in result.cfunc_params]
    )(result.address)
    outputs = (ctypes.c_void_p * 3)(ptr(0), ptr(1), ptr(2))
    inputs = (ctypes.c_void_p * 2)(ptr(3), ptr(4))
    flags = (ctypes.c_int8 * 3)(1, 1, 1)
    cells[3] = 0b0010 | (0xFF << 8)  # GREEN plus garbage above the 4 members
    for value, has in ((Color.GREEN.value, True), (Color.RED.value, False), (99, False)):
        cells[4] = value
        fn(outputs, flags, None, NCC_EXECUTE, inputs, flags, flags)
        assert (ctypes.c_int8.from_buffer(cells, 0).value, cells[1], cells[2]) == (has, 1, 0b0010)


def plain(sides: EnumSet[Color]) -> EnumSet[Color]:
    s: State[EnumSet[Color]] = EnumSet[Color]([Color.GREEN])
    s.add(Color.BLACK)
    return s | sides


def test_without_the_reference_host(fresh_context):
    """The built-ins alone (create_compiled_func, a plain return annotation): the output cell is the
    mask, bit i = the i-th member."""
    result = compile_direct(plain, {Color.RED})
    node = DirectNode(result)
    node.start()
    assert node.execute() == [0b1011] and node.state_value("s") == 0b1010
    node.stop()


# -- state, constants, locals ------------------------------------------------------------------


def days(d: Signal[Day], weekend: EnumSet[Day]) -> Outputs(
    free=Signal[bool], worked=Signal[EnumSet[Day]], left=Signal[int], every=Signal[bool], copy=Signal[EnumSet[Day]]
):
    worked: State[EnumSet] = EnumSet[Day]()  # State[EnumSet] takes its enum from the value
    if d not in weekend and d not in WEEKEND_FREE:
        worked.add(d)
    left = 0
    for m in ALL_DAYS - worked:
        left += 1
    output(free=d in weekend, worked=worked, left=left, every=worked == EnumSet[Day](Day), copy=EnumSet[Day](worked))


def test_state_constants_and_module_level_sets():
    runner = started(compile_node(days, weekend={Day.WED}))
    assert runner.execute(d=Day.TUE) == {
        "free": False,
        "worked": {Day.TUE},
        "left": 4,
        "every": False,
        "copy": {Day.TUE},
    }
    assert runner.execute(d=Day.WED)["free"] is True
    assert runner.execute(d=Day.THU)["worked"] == {Day.TUE, Day.THU}
    runner.execute(d=Day.MON)
    assert runner.state("worked") == {Day.TUE, Day.THU}


def test_constant_parameters_and_state_change_the_key():
    first = compile_node(days, weekend={Day.WED})
    assert compile_node(days, weekend=EnumSet[Day]([Day.WED])).semantic_key == first.semantic_key
    assert compile_node(days, weekend={Day.THU}).semantic_key != first.semantic_key


def make_sides(enum_class):
    def sides(x: Signal[enum_class]) -> Signal[EnumSet[enum_class]]:
        seen: State[EnumSet[enum_class]] = EnumSet[enum_class]()
        if ticked(x):
            seen.add(x)
        return seen

    return sides


def make_side(sell: int):
    class Side(enum.IntEnum):  # the same qualified name each time
        BUY = 1
        SELL = sell

    return Side


def test_intenum_values_and_the_key_follow_the_members():
    runner = started(compile_node(make_sides(Side)))
    assert runner.execute(x=Side.SELL) == {Side.SELL} and runner.execute(x=1) == {Side.BUY, Side.SELL}
    first, second = make_side(-1), make_side(-2)
    assert first.__qualname__ == second.__qualname__
    key = compile_node(make_sides(first)).semantic_key
    assert compile_node(make_sides(first)).semantic_key == key
    assert compile_node(make_sides(second)).semantic_key != key  # same source text, other values


def adder(v: Signal[int]) -> Signal[EnumSet[Day]]:
    s = EnumSet[Day]()
    s.add(v)
    return s


def test_adding_a_value_that_is_no_member_is_a_fault():
    runner = started(compile_node(adder))
    assert runner.execute(v=4) == {Day.FRI}
    with pytest.raises(NodeRuntimeError, match=r"EnumSet\[Day\]: the value added is not a member of Day") as info:
        runner.execute(v=5)
    assert info.value.code == ErrorCode.INVALID_CONVERSION


# -- how values map to bits: every strategy of the code generator -----------------------------

SHAPES = {
    "contiguous": {"A": -2, "B": -1, "C": 0, "D": 1},
    "progression": {"A": 1, "B": 4, "C": 7, "D": 10},  # a table from value to bit; value = 1 + 3 * bit
    "table": {"A": 10, "B": 20, "C": 5, "D": -3},
    "flags": {"A": 1, "B": 1 << 20, "C": 1 << 62, "D": 4},  # the position of the single set bit
    "sparse": {"A": -(10**15), "B": 7, "C": 10**12, "D": 2**63 - 1},  # a switch
}


def make_probe(enum_class):
    def probe(x: Signal[int], op: Signal[int]) -> Outputs(
        s=Signal[EnumSet[enum_class]], has=Signal[bool], total=Signal[int]
    ):
        s: State[EnumSet[enum_class]] = EnumSet[enum_class]()
        if op == 0:
            s.discard(x)
        else:
            s.add(x)
        total = 0
        for m in s:
            total = total * 3 + m % 1000003
        output(s=s, has=x in s, total=total)

    return probe


@pytest.mark.parametrize("shape", list(SHAPES))
def test_every_value_to_bit_strategy(shape):
    E = enum.IntEnum(f"Shape_{shape}", SHAPES[shape])
    runner = started(compile_node(make_probe(E)))
    model: set = set()
    others = [m.value + d for m in E for d in (-1, 1)] + [0, -(2**63), 2**63 - 1, 1 << 21, 3]
    others = [v for v in others if v not in E._value2member_map_ and -(2**63) <= v < 2**63]
    for member in [E.C, E.A, E.D, E.B, E.A]:
        model.add(member)
        total = 0
        for m in EnumSet[E](model):
            total = total * 3 + m.value % 1000003
        assert runner.execute(x=member.value, op=1) == {"s": model, "has": True, "total": total}
    for value in others:  # no member: not in the set, discarding it changes nothing, adding faults
        assert runner.execute(x=value, op=0)["has"] is False
        with pytest.raises(NodeRuntimeError, match="not a member"):
            runner.execute(x=value, op=1)
    assert runner.state("s") == set(E)
    model.discard(E.D)
    assert runner.execute(x=E.D.value, op=0)["s"] == model


# -- properties against Python sets ------------------------------------------------------------

OPS = ("add", "discard", "clear", "union", "intersection", "difference", "toggle")


def program(op: Signal[int], m: Signal[Color], other: Signal[EnumSet[Color]]) -> Outputs(
    s=Signal[EnumSet[Color]], n=Signal[int], has=Signal[bool], order=Signal[int], tmp=Signal[EnumSet[Color]]
):
    s: State[EnumSet[Color]] = EnumSet[Color]()
    if op == 0:
        s.add(m)
    elif op == 1:
        s.discard(m)
    elif op == 2:
        s.clear()
    elif op == 3:
        s = s | other
    elif op == 4:
        s = s & other
    elif op == 5:
        s -= other
    else:
        s ^= other
    tmp = s if len(s) % 2 == 0 else other
    tmp.add(m)
    order = 0
    for x in s:
        order = order * 64 + x + 4
    output(s=s, n=len(s), has=m in s, order=order, tmp=tmp)


@pytest.fixture(scope="module")
def program_runner():
    return started(compile_node(program))


def apply_model(model: set, op: str, m: Color, other: set) -> set:
    return {
        "add": lambda: model | {m},
        "discard": lambda: model - {m},
        "clear": set,
        "union": lambda: model | other,
        "intersection": lambda: model & other,
        "difference": lambda: model - other,
        "toggle": lambda: model ^ other,
    }[op]()


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(OPS), st.sampled_from(list(Color)), st.sets(st.sampled_from(list(Color)))),
        max_size=25,
    )
)
def test_operation_sequences_agree_with_python_sets(program_runner, steps):
    runner = program_runner
    runner.execute(op=OPS.index("clear"), m=Color.RED, other=set())
    model: set = set()
    for op, m, other in steps:
        model = apply_model(model, op, m, other)
        got = runner.execute(op=OPS.index(op), m=m, other=other)
        order = 0
        for x in C(model):
            order = order * 64 + x.value + 4
        tmp = (set(model) if len(model) % 2 == 0 else set(other)) | {m}
        assert got == {"s": model, "n": len(model), "has": m in model, "order": order, "tmp": tmp}
        assert runner.state("s") == model


def binary(a: Signal[EnumSet[Wide]], b: Signal[EnumSet[Wide]]) -> Outputs(
    u=Signal[EnumSet[Wide]],
    i=Signal[EnumSet[Wide]],
    d=Signal[EnumSet[Wide]],
    x=Signal[EnumSet[Wide]],
    eq=Signal[bool],
    ne=Signal[bool],
    na=Signal[int],
    t=Signal[bool],
    last=Signal[int],
):
    last = 0
    for m in a:
        last = m
    output(u=a | b, i=a & b, d=a - b, x=a ^ b, eq=a == b, ne=a != b, na=len(a), t=bool(b), last=last)


@pytest.fixture(scope="module")
def binary_runner():
    return started(compile_node(binary))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1))
def test_binary_operators_on_random_masks(binary_runner, mask_a, mask_b):
    W = EnumSet[Wide]
    a, b = W.from_mask(mask_a), W.from_mask(mask_b)
    got = binary_runner.execute(a=a, b=b)
    assert got == {
        "u": a | b,
        "i": a & b,
        "d": a - b,
        "x": a ^ b,
        "eq": a == b,
        "ne": a != b,
        "na": len(a),
        "t": bool(b),
        "last": max((m.value for m in a), default=0),
    }
    assert got["u"].mask == mask_a | mask_b and got["x"].mask == mask_a ^ mask_b


# -- hosts without the compiler ----------------------------------------------------------------


def test_slot_codec_agrees_with_the_type():
    var_type = EnumSetType(EnumSet[Color])
    slot = var_type.value_slot("s")
    assert (slot.type, slot.cell) == ("EnumSet[Color]", "int64")
    for types in ({"Color": Color}, {"EnumSet[Color]": Color}, {"EnumSet[Color]": EnumSet[Color]}):
        codec = codec_for({"type": slot.type, "cell": slot.cell}, types)
        assert codec.describe() == var_type.describe()
        for value in ([], {Color.BLUE}, C(Color), [10, Color.BLACK]):
            assert codec.host_encode(value) == var_type.host_encode(value)
            decoded = codec.host_decode(var_type.host_encode(value))
            assert decoded == var_type.host_decode(var_type.host_encode(value)) and type(decoded) is C
        for bad in ([Side.BUY], 3, ["x"]):
            with pytest.raises(TypeError):
                codec.host_encode(bad)
            with pytest.raises(TypeError):
                var_type.host_encode(bad)
    raw = SlotCodec("EnumSet[Color]", "int64")  # no class named: the mask
    assert raw.host_encode(0b101) == 0b101 and raw.host_decode(-1) == -1


# -- misuse: CompilationErrors at the user's line -----------------------------------------------


def add_other_enum(x: Signal[int]) -> Signal[int]:
    s = EnumSet[Color]()
    s.add(Side.BUY)  # <- error
    return len(s)


def constant_not_a_member(x: Signal[int]) -> Signal[int]:
    s = EnumSet[Color]([Color.RED, 7])  # <- error
    return len(s)


def too_many_members(x: Signal[int]) -> Signal[int]:
    s = EnumSet[TooMany]()  # <- error
    return len(s)


def not_an_enum(x: Signal[int]) -> Signal[int]:
    s = EnumSet[int]()  # <- error
    return len(s)


def input_of_other_enum(x: Signal[Side]) -> Signal[int]:
    s: State[EnumSet[Color]] = EnumSet[Color]()
    s.discard(x)  # <- error
    return len(s)


def state_of_too_many(x: Signal[int]) -> Signal[int]:
    s: State[EnumSet[TooMany]] = None  # <- error
    return 1


def mixed_enums(x: Signal[int]) -> Signal[int]:
    a = EnumSet[Color]()
    b = EnumSet[Side]([Side.BUY])
    return len(a & b)  # <- error


def changing_an_input(x: Signal[EnumSet[Color]]) -> Signal[int]:
    x.add(Color.RED)  # <- error
    return len(x)


def changing_a_constant(x: Signal[int], fixed: EnumSet[Color]) -> Signal[int]:
    fixed.clear()  # <- error
    return len(fixed)


def add_as_expression(x: Signal[int]) -> Signal[int]:
    s = EnumSet[Color]()
    y = s.add(Color.RED)  # <- error
    return 1


def unknown_method(x: Signal[int]) -> Signal[int]:
    s = EnumSet[Color]()
    s.remove(Color.RED)  # <- error
    return 1


def other_member_in(x: Signal[int]) -> Signal[bool]:
    s = EnumSet[Color]()
    return Side.SELL in s  # <- error


def set_or_member(x: Signal[int]) -> Signal[int]:
    s = EnumSet[Color]()
    s = s | Color.RED  # <- error
    return len(s)


def int_into_a_set(x: Signal[int]) -> Signal[int]:
    s: State[EnumSet[Color]] = EnumSet[Color]()
    s = 3  # <- error
    return 1


def plus(a: Signal[EnumSet[Color]], b: Signal[EnumSet[Color]]) -> Signal[int]:
    return len(a + b)  # <- error


def subset(a: Signal[EnumSet[Color]], b: Signal[EnumSet[Color]]) -> Signal[bool]:
    return a <= b  # <- error


def set_equals_int(a: Signal[EnumSet[Color]], n: Signal[int]) -> Signal[bool]:
    return a == n  # <- error


def bare_enum_set(x: Signal[int]) -> Signal[int]:
    s = EnumSet()  # <- error
    return 1


@pytest.mark.parametrize(
    "func, constants, at, message, hint",
    [
        (
            add_other_enum,
            {},
            "Side.BUY",
            "s.add(): Side.BUY is a member of Side, not of Color",
            "holds Color members only",
        ),
        (
            constant_not_a_member,
            {},
            "7",
            "EnumSet[Color]: 7 is not a member of Color",
            "use a member such as Color.RED",
        ),
        (
            too_many_members,
            {},
            "EnumSet[TooMany]",
            "TooMany has 65 members; an EnumSet holds at most 64",
            "at most 64 members",
        ),
        (not_an_enum, {}, "EnumSet[int]", "int is not an Enum class", "use an Enum or IntEnum class"),
        (input_of_other_enum, {}, "x", "input 'x' holds Side members, not Color members", "holds Color members only"),
        (state_of_too_many, {}, "State[", "TooMany has 65 members", None),
        (mixed_enums, {}, "a & b", "cannot combine an EnumSet[Color] and an EnumSet[Side] with &", "do not mix"),
        (changing_an_input, {}, "x.add", "input 'x' is read-only", "copy it into a local first"),
        (
            changing_a_constant,
            {"fixed": {Color.RED}},
            "fixed.clear",
            "constant 'fixed' cannot be assigned",
            "copy it into a local",
        ),
        (add_as_expression, {}, "s.add", "s.add() changes the set and returns nothing", "as a statement of its own"),
        (
            unknown_method,
            {},
            "s.remove",
            "EnumSet[Color] has no method 'remove' (supported: add, discard, clear)",
            "operators",
        ),
        (other_member_in, {}, "Side.SELL", "Side.SELL is a member of Side, not of Color", "holds Color members only"),
        (set_or_member, {}, "Color.RED", "| combines two sets; Color.RED is not a set", "EnumSet[Color]([Color.RED])"),
        (int_into_a_set, {}, "s = 3", "value cannot be stored where an EnumSet[Color] is expected", None),
        (bare_enum_set, {}, "EnumSet", "EnumSet needs its enum class", "EnumSet[E]"),
        (plus, {}, "a + b", "EnumSet[Color] has no operator +", "| (union), & (intersection)"),
        (subset, {}, "a <= b", "EnumSet[Color] has no ordering or subset test", "not (a - b)"),
        (set_equals_int, {}, "a == n", "compared only with another EnumSet[Color]", "x in s"),
    ],
)
def test_misuse_is_reported_at_the_line(func, constants, at, message, hint):
    err = rejected(func, at=at, **constants)
    assert message in err.message, err.message
    if hint is not None:
        assert err.hint and hint in err.hint, err.hint


def wrong_constant(x: Signal[int], fixed: EnumSet[Color]) -> Signal[int]:
    return len(fixed)


def test_constant_parameter_of_another_enum():
    with pytest.raises(
        Exception,
        match=r"constant parameter 'fixed': EnumSet\[Color\] holds members of Color; <Side.BUY: 1> is not one",
    ) as info:
        compile_node(wrong_constant, fixed={Side.BUY})
    assert info.value.lineno == wrong_constant.__code__.co_firstlineno


def test_start_again_restores_the_initial_set(operations_result):
    runner = NodeRunner(operations_result)
    runner.start()
    runner.execute(a={Color.RED}, b=set(), c=Color.GREEN)
    assert runner.state("seen") == {Color.BLACK, Color.GREEN}
    runner.stop()
    runner.start()  # START again: back to the initial set
    assert runner.state("seen") == {Color.BLACK}
