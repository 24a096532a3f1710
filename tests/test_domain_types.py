"""Built-in domain types in compiled nodes (SPEC §3, §5; seed README "Built-in Types"):
datetime / timedelta, Python enums and structs, each compiled and run through its native entry
point. Unsupported uses are `CompilationError`s at the user's line (marked ``# <- error``).

No ``from __future__ import annotations``: some nodes are closures over locally defined classes,
whose names resolve only in annotations evaluated when the node is defined.
"""

import ast
import ctypes
import datetime as dtmod
import enum
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from numba_cfunc_compiler import CompilationError, State, host
from numba_cfunc_compiler.compilation_context import CompilationContext
from numba_cfunc_compiler.defaults import register_all
from numba_cfunc_compiler.defaults.structs import StructField, StructType
from numba_cfunc_compiler.host import NodeRunner, Outputs, Signal, SignalType, compile_node, output, ticked
from numba_cfunc_compiler.numba_core import create_compiled_func
from numba_cfunc_compiler.type_factory import TypeFactory
from conftest import rejected, started

UTC = timezone.utc
TOKYO = timezone(timedelta(hours=9))
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US = timedelta(microseconds=1)

# module-level constants that node code refers to
T0 = datetime(2024, 3, 1, 12, tzinfo=UTC)
STEP = timedelta(seconds=90)
OPENING = datetime(2024, 3, 1, 9, 30, tzinfo=TOKYO)  # 00:30 UTC
NAIVE_NOON = datetime(2024, 3, 1, 12)
DAYS = 3


# -- helpers ------------------------------------------------------------------------------------


def ns(value) -> int:
    """Nanoseconds since the epoch (aware datetime) or in a timedelta, computed independently."""
    if isinstance(value, datetime):
        value = value - EPOCH
    return (value // US) * 1_000





def is_utc_datetime(value) -> bool:
    return isinstance(value, datetime) and value.utcoffset() == timedelta(0)


def constructor_calls(source: str) -> set[str]:
    """Names of datetime/timedelta/timezone constructor calls left in generated code."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            names.add(func.id if isinstance(func, ast.Name) else getattr(func, "attr", None))
    return names & {"datetime", "timedelta", "timezone"}


# =============================================================================================
# datetime / timedelta
# =============================================================================================


def arith(
    t: Signal[datetime], t2: Signal[datetime], d: Signal[timedelta], d2: Signal[timedelta], n: Signal[int], f: Signal[float]
) -> Outputs(
    plus=Signal[datetime], minus=Signal[datetime], plus_rev=Signal[datetime], since=Signal[timedelta],
    dsum=Signal[timedelta], ddiff=Signal[timedelta], times=Signal[timedelta], rtimes=Signal[timedelta],
    ftimes=Signal[timedelta], neg=Signal[timedelta],
    t_lt=Signal[bool], t_le=Signal[bool], t_eq=Signal[bool], t_ne=Signal[bool], t_gt=Signal[bool], t_ge=Signal[bool],
    d_lt=Signal[bool], d_le=Signal[bool], d_eq=Signal[bool], d_ne=Signal[bool], d_gt=Signal[bool], d_ge=Signal[bool],
):
    output(plus=t + d, minus=t - d, plus_rev=d + t, since=t - t2)
    output(dsum=d + d2, ddiff=d - d2, times=d * n, rtimes=n * d, ftimes=d * f, neg=-d)
    output(t_lt=t < t2, t_le=t <= t2, t_eq=t == t2, t_ne=t != t2, t_gt=t > t2, t_ge=t >= t2)
    output(d_lt=d < d2, d_le=d <= d2, d_eq=d == d2, d_ne=d != d2, d_gt=d > d2, d_ge=d >= d2)


def arith_model(t, t2, d, d2, n, f) -> dict:
    return {
        "plus": t + d, "minus": t - d, "plus_rev": d + t, "since": t - t2,
        "dsum": d + d2, "ddiff": d - d2, "times": d * n, "rtimes": n * d, "ftimes": d * f, "neg": -d,
        "t_lt": t < t2, "t_le": t <= t2, "t_eq": t == t2, "t_ne": t != t2, "t_gt": t > t2, "t_ge": t >= t2,
        "d_lt": d < d2, "d_le": d <= d2, "d_eq": d == d2, "d_ne": d != d2, "d_gt": d > d2, "d_ge": d >= d2,
    }


@pytest.fixture(scope="module")
def arith_runner() -> NodeRunner:
    return started(compile_node(arith))


def check_arith(runner: NodeRunner, t, t2, d, d2, n, f) -> None:
    actual = runner.execute(t=t, t2=t2, d=d, d2=d2, n=n, f=f)
    expected = arith_model(t, t2, d, d2, n, f)
    assert set(actual) == set(expected)
    for name, want in expected.items():
        got = actual[name]
        assert type(got) is type(want), (name, got, want)
        if name == "ftimes":  # Python rounds timedelta * float to the microsecond, nodes keep ns
            assert abs(got - want) <= US, (name, got, want, (t, t2, d, d2, n, f))
        else:
            assert got == want, (name, got, want, (t, t2, d, d2, n, f))
        if isinstance(want, datetime):
            assert is_utc_datetime(got), (name, got)


ARITH_CASES = [
    (T0, T0, STEP, STEP, 3, 1.5),
    (T0 + timedelta(seconds=10), T0, timedelta(seconds=3, microseconds=5), timedelta(hours=1), 3, 1.5),
    (datetime(1960, 2, 3, 4, 5, 6, 7, tzinfo=UTC), T0, timedelta(seconds=-3), timedelta(microseconds=-1), -2, -0.5),
    (OPENING, datetime(2024, 2, 29, 15, 30, tzinfo=UTC), timedelta(days=-2, microseconds=999_999), US, 0, 0.0),
    (EPOCH, EPOCH - US, timedelta(0), timedelta(0), 100, 1e-6),
]


@pytest.mark.parametrize("t, t2, d, d2, n, f", ARITH_CASES)
def test_datetime_and_timedelta_arithmetic_and_comparisons(arith_runner, t, t2, d, d2, n, f):
    check_arith(arith_runner, t, t2, d, d2, n, f)


ZONES = st.sampled_from([UTC, TOKYO, timezone(timedelta(hours=-5, minutes=-30)), timezone(timedelta(hours=14))])
DATETIMES = st.datetimes(min_value=datetime(1950, 1, 1), max_value=datetime(2100, 1, 1), timezones=ZONES)
TIMEDELTAS = st.timedeltas(min_value=timedelta(days=-1000), max_value=timedelta(days=1000))
# a timedelta as often as not close to the other one, so that equal values come up
PAIRS = st.tuples(DATETIMES, DATETIMES | st.just(T0)) | DATETIMES.map(lambda t: (t, t))


@settings(max_examples=100, deadline=None)
@given(
    times=PAIRS,
    d=TIMEDELTAS,
    d2=TIMEDELTAS | st.sampled_from([timedelta(0), STEP]),
    n=st.integers(-100, 100),
    f=st.floats(-10.0, 10.0, allow_nan=False, allow_infinity=False),
)
@example(times=(EPOCH, EPOCH), d=-US, d2=-US, n=-1, f=-1.0)
@example(times=(datetime(1950, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)), d=timedelta(days=1000), d2=timedelta(days=-1000), n=100, f=10.0)
def test_datetime_arithmetic_agrees_with_python(arith_runner, times, d, d2, n, f):
    t, t2 = times
    check_arith(arith_runner, t, t2, d, d2, n, f)


def misc(t: Signal[datetime], d: Signal[timedelta], n: Signal[int]) -> Outputs(
    ratio=Signal[timedelta], scaled=Signal[timedelta], secs_input=Signal[float], secs_local=Signal[float],
    secs_expr=Signal[float], late=Signal[bool],
):
    window = d + STEP
    output(ratio=d / n, scaled=d * 2.5, secs_input=d.total_seconds(), secs_local=window.total_seconds())
    output(secs_expr=(t - T0).total_seconds(), late=(t - T0).total_seconds() > 60.0)


@pytest.fixture(scope="module")
def misc_runner() -> NodeRunner:
    return started(compile_node(misc))


def test_timedelta_division_float_product_and_total_seconds(misc_runner):
    d = timedelta(seconds=9, microseconds=3)
    out = misc_runner.execute(t=T0 + timedelta(minutes=2, microseconds=500), d=d, n=3)
    scaled = out.pop("scaled")  # 22.5000075 s: Python rounds to the microsecond, the node keeps ns
    assert isinstance(scaled, timedelta) and abs(scaled - d * 2.5) <= US
    assert out == {
        "ratio": timedelta(seconds=3, microseconds=1),
        "secs_input": 9.000003,
        "secs_local": 99.000003,
        "secs_expr": 120.0005,
        "late": True,
    }
    out = misc_runner.execute(t=T0 - timedelta(seconds=30), d=timedelta(seconds=-8), n=-4)
    assert out == {
        "ratio": timedelta(seconds=2),
        "scaled": timedelta(seconds=-20),
        "secs_input": -8.0,
        "secs_local": 82.0,
        "secs_expr": -30.0,
        "late": False,
    }
    assert isinstance(out["ratio"], timedelta) and isinstance(out["secs_input"], float)


def constants_node(x: Signal[int]) -> Outputs(
    new_year=Signal[datetime], tokyo=Signal[datetime], qualified=Signal[datetime], week=Signal[timedelta],
    tiny=Signal[timedelta], t0=Signal[datetime], step=Signal[timedelta], opening=Signal[datetime],
    later=Signal[datetime], after=Signal[bool],
):
    output(new_year=datetime(2030, 1, 2, 3, 4, 5, 6, tzinfo=timezone.utc), tokyo=datetime(2024, 1, 1, 9, tzinfo=TOKYO))
    output(qualified=dtmod.datetime(2024, 1, 1, tzinfo=dtmod.timezone.utc))
    output(week=timedelta(weeks=1, hours=-1), tiny=timedelta(microseconds=-7))
    output(t0=T0, step=STEP, opening=OPENING)
    output(later=T0 + timedelta(days=DAYS), after=OPENING < T0)


@pytest.fixture(scope="module")
def constants_result():
    return compile_node(constants_node)


def test_datetime_and_timedelta_calls_are_lowered_to_constants(constants_result):
    source = constants_result.transformed_source
    assert constructor_calls(source) == set(), source
    for value in (
        datetime(2030, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        datetime(2024, 1, 1, tzinfo=UTC),
        timedelta(weeks=1, hours=-1),
        timedelta(microseconds=-7),
        timedelta(days=DAYS),
    ):
        assert str(ns(value)) in source, (value, source)
    out = started(constants_result).execute(x=0)
    assert out["new_year"] == datetime(2030, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert out["tokyo"] == datetime(2024, 1, 1, tzinfo=UTC)
    assert out["qualified"] == datetime(2024, 1, 1, tzinfo=UTC)
    assert out["week"] == timedelta(days=6, hours=23)
    assert out["tiny"] == timedelta(microseconds=-7)
    assert out["later"] == datetime(2024, 3, 4, 12, tzinfo=UTC)
    assert out["after"] is True
    assert all(is_utc_datetime(out[k]) for k in ("new_year", "tokyo", "qualified", "later"))


def test_module_level_datetime_and_timedelta_constants(constants_result):
    source = constants_result.transformed_source
    for value in (T0, STEP, OPENING):
        assert str(ns(value)) in source
    out = started(constants_result).execute(x=1)
    assert out["t0"] == T0 and out["step"] == STEP
    assert out["opening"] == datetime(2024, 3, 1, 0, 30, tzinfo=UTC)
    assert is_utc_datetime(out["opening"])


def stateful(t: Signal[datetime], d: Signal[timedelta]) -> Outputs(
    prev=Signal[datetime], gap=Signal[timedelta], total=Signal[timedelta], fresh=Signal[bool]
):
    last: State[datetime] = T0
    total: State[timedelta] = timedelta(hours=1)
    if ticked(t):
        output(prev=last, gap=t - last, fresh=t - last < STEP)
        last = t
    if ticked(d):
        total += d
        output(total=total)


@pytest.fixture(scope="module")
def stateful_result():
    return compile_node(stateful)


def test_datetime_and_timedelta_state_initial_values_and_persistence(stateful_result):
    assert stateful_result.state_values == [ns(T0), ns(timedelta(hours=1))]
    runner = started(stateful_result)
    assert runner.state("last") == T0  # NodeRunner.state decodes like outputs
    assert runner.state("total") == timedelta(hours=1)
    t1 = T0 + timedelta(seconds=30)
    assert runner.execute(t=t1) == {"prev": T0, "gap": timedelta(seconds=30), "fresh": True}
    assert runner.execute(d=timedelta(minutes=-15)) == {"total": timedelta(minutes=45)}
    t2 = datetime(2024, 3, 2, 9, tzinfo=TOKYO)  # 00:00 UTC, after t1
    out = runner.execute(t=t2, d=timedelta(microseconds=7))
    assert out == {"prev": t1, "gap": t2 - t1, "fresh": False, "total": timedelta(minutes=45, microseconds=7)}
    assert is_utc_datetime(out["prev"]) and isinstance(out["gap"], timedelta)
    assert runner.state("last") == t2
    # a restart goes back to the initial values
    runner.stop()
    runner.start()
    assert runner.execute(t=T0) == {"prev": T0, "gap": timedelta(0), "fresh": True}


def datetime_param(t: Signal[datetime], cutoff: datetime, grace: timedelta) -> Signal[bool]:
    return t > cutoff + grace


def test_aware_datetime_constant_parameter_is_baked_in():
    result = compile_node(datetime_param, cutoff=datetime(2024, 3, 1, 21, tzinfo=TOKYO), grace=timedelta(seconds=5))
    assert str(ns(datetime(2024, 3, 1, 12, tzinfo=UTC))) in result.transformed_source
    runner = started(result)
    assert runner.execute(t=T0 + timedelta(seconds=5)) is False
    assert runner.execute(t=T0 + timedelta(seconds=5, microseconds=1)) is True


def datetime_param_naive(t: Signal[datetime], cutoff: datetime) -> Signal[bool]:  # <- error
    return t > cutoff


def test_naive_datetime_constant_parameter_is_rejected_naming_the_parameter():
    err = rejected(datetime_param_naive, at="cutoff", cutoff=datetime(2024, 3, 1, 12))
    assert "naive" in err.message
    assert "cutoff" in err.message, err.message


def naive_in_code(t: Signal[datetime]) -> Signal[bool]:
    return t > datetime(2024, 1, 1)  # <- error


def test_naive_datetime_in_node_code_is_rejected():
    err = rejected(naive_in_code, at="datetime(")
    assert "naive" in err.message and err.hint and "tzinfo" in err.hint


def naive_module_constant(t: Signal[datetime]) -> Signal[bool]:
    return t > NAIVE_NOON  # <- error


def test_naive_module_level_datetime_is_rejected():
    err = rejected(naive_module_constant, at="NAIVE_NOON")
    assert "naive" in err.message


def naive_state(t: Signal[datetime]) -> Signal[bool]:
    last: State[datetime] = NAIVE_NOON  # <- error
    return t > last


def test_naive_datetime_state_initial_value_is_rejected():
    err = rejected(naive_state)
    assert "naive" in err.message and "last" in err.message


def runtime_argument(t: Signal[datetime], n: Signal[int]) -> Signal[datetime]:
    return t + timedelta(seconds=n)  # <- error


def test_timedelta_call_with_a_runtime_argument_is_rejected():
    err = rejected(runtime_argument, at="n)")
    assert "'n'" in err.message


def datetime_into_timedelta(t: Signal[datetime]) -> Signal[timedelta]:
    return t  # <- error


def test_datetime_stored_into_a_timedelta_output_is_rejected():
    err = rejected(datetime_into_timedelta, at="return")
    assert "timedelta" in err.message


def datetime_into_named_timedelta(t: Signal[datetime]) -> Outputs(ok=Signal[datetime], gap=Signal[timedelta]):
    output(ok=t)
    output(gap=t)  # <- error


def test_datetime_stored_into_a_named_timedelta_output_is_rejected():
    rejected(datetime_into_named_timedelta)


def int_into_datetime(n: Signal[int]) -> Signal[datetime]:
    return n  # <- error


def test_int_stored_into_a_datetime_output_is_rejected():
    err = rejected(int_into_datetime, at="return")
    assert "datetime" in err.message


def datetime_into_timedelta_state(t: Signal[datetime]) -> Signal[int]:
    span: State[timedelta] = STEP
    span = t  # <- error
    return 1


def test_datetime_stored_into_timedelta_state_is_rejected():
    rejected(datetime_into_timedelta_state, at="span")


def datetime_beyond_int64_ns(t: Signal[datetime]) -> Signal[bool]:
    return t < datetime(2300, 1, 1, tzinfo=UTC)  # <- error


def timedelta_beyond_int64_ns(d: Signal[timedelta]) -> Signal[bool]:
    return d < timedelta(days=200_000)  # <- error


@pytest.mark.parametrize("func", [datetime_beyond_int64_ns, timedelta_beyond_int64_ns])
def test_constants_outside_the_int64_nanosecond_range_are_rejected(func):
    """int64 nanoseconds cover 1677-09-21 .. 2262-04-11 (±292 years); a constant outside must not
    wrap around silently (2024 < 2300 would come out False)."""
    rejected(func, at=func.__name__.split("_")[0] + "(")


def test_runner_rejects_a_datetime_input_outside_the_int64_nanosecond_range(stateful_result):
    runner = started(stateful_result)
    with pytest.raises((ValueError, OverflowError)):
        runner.execute(t=datetime(2300, 1, 1, tzinfo=UTC))
    with pytest.raises((ValueError, OverflowError)):
        runner.execute(d=timedelta(days=200_000))


def test_runner_rejects_a_naive_datetime_input(stateful_result):
    runner = started(stateful_result)
    with pytest.raises(ValueError, match="naive"):
        runner.execute(t=datetime(2024, 3, 1, 12))


# =============================================================================================
# Enums
# =============================================================================================


class Side(enum.IntEnum):
    BUY = 1
    SELL = -1


class Color(enum.Enum):  # a plain Enum with int values
    RED = 10
    GREEN = 20
    BLUE = 30


class Venue(enum.Enum):  # not int-valued: not a supported type
    LSE = "lse"
    NYSE = "nyse"


HOUSE_COLOR = Color.GREEN  # a module-level member


def enums(side: Signal[Side], color: Signal[Color], preferred: Color) -> Outputs(
    flipped=Signal[Side], echo=Signal[Color], prev=Signal[Color], opening=Signal[Side], sell=Signal[bool],
    not_green=Signal[bool], house=Signal[bool], is_preferred=Signal[bool], code=Signal[int],
):
    last: State[Color] = Color.BLUE
    first: State[Side] = Side.SELL
    if ticked(side):
        output(flipped=Side.SELL if side == Side.BUY else Side.BUY, sell=side == Side.SELL, opening=first)
        first = side
    if ticked(color):
        output(echo=color, prev=last, not_green=color != Color.GREEN, house=color == HOUSE_COLOR)
        output(is_preferred=color == preferred, code=Color.BLUE)
        last = color


@pytest.fixture(scope="module")
def enums_result():
    return compile_node(enums, preferred=Color.RED)


def test_enum_members_are_integer_constants_and_state_starts_at_the_member(enums_result):
    assert enums_result.state_values == [30, -1]
    source = enums_result.transformed_source
    assert "Color" not in source and "Side" not in source, source


def test_enum_inputs_outputs_comparisons_and_state(enums_result):
    runner = started(enums_result)
    out = runner.execute(side=Side.BUY, color=Color.RED)
    assert out == {
        "flipped": Side.SELL, "sell": False, "opening": Side.SELL,
        "echo": Color.RED, "prev": Color.BLUE, "not_green": True, "house": False, "is_preferred": True, "code": 30,
    }
    assert out["flipped"] is Side.SELL and out["echo"] is Color.RED and out["prev"] is Color.BLUE
    out = runner.execute(side=Side.SELL, color=Color.GREEN)
    assert out == {
        "flipped": Side.BUY, "sell": True, "opening": Side.BUY,
        "echo": Color.GREEN, "prev": Color.RED, "not_green": False, "house": True, "is_preferred": False, "code": 30,
    }
    assert out["opening"] is Side.BUY and out["echo"] is Color.GREEN
    assert runner.execute(color=Color.BLUE)["prev"] is Color.GREEN


def test_enum_constant_parameter_is_baked_in():
    runner = started(compile_node(enums, preferred=Color.BLUE))
    assert runner.execute(color=Color.BLUE)["is_preferred"] is True
    assert runner.execute(color=Color.RED)["is_preferred"] is False


def enums_bad_param(color: Signal[Color], preferred: Color) -> Signal[bool]:  # <- error
    return color == preferred


def test_enum_constant_parameter_of_another_enum_is_rejected():
    rejected(enums_bad_param, at="preferred", preferred=Side.BUY)


def test_runner_rejects_a_member_of_another_enum(enums_result):
    runner = started(enums_result)
    with pytest.raises((TypeError, ValueError)):
        runner.execute(color=Side.BUY)


def call_globals_node(x: Signal[int]) -> Outputs(fast=Signal[bool], gear=Signal[int], mode=Signal[int]):
    mode: State[int] = Mode.SLOW  # noqa: F821 - given through call_globals
    output(fast=x == Mode.FAST, gear=Gear.HIGH if x > 0 else Gear.LOW, mode=mode)  # noqa: F821
    mode = x


def test_enums_from_call_globals(host_context):
    class Mode(enum.IntEnum):
        SLOW = 3
        FAST = 7

    class Gear(enum.Enum):
        LOW = 100
        HIGH = 200

    assert "Mode" not in globals() and "Gear" not in globals()
    result = create_compiled_func(
        call_globals_node,
        extract_python_type_fn=lambda arg: arg.python_type if isinstance(arg, SignalType) else type(arg),
        call_globals={"Mode": Mode, "Gear": Gear},
        x=Signal[int],
    )
    assert result.state_values == [3]
    runner = started(result)
    assert runner.execute(x=7) == {"fast": True, "gear": 200, "mode": 3}
    assert runner.execute(x=-1) == {"fast": False, "gear": 100, "mode": 7}


def closure_enum_node_for(Level):
    def closure_enum(level: Signal[Level]) -> Outputs(level=Signal[Level], high=Signal[bool]):
        seen: State[Level] = Level.HIGH
        output(level=seen, high=level == Level.HIGH)
        seen = level

    return closure_enum


def test_closure_enum_class_types_inputs_state_and_outputs():
    class Level(enum.IntEnum):
        LOW = 0
        HIGH = 5

    runner = started(compile_node(closure_enum_node_for(Level)))
    assert runner.execute(level=Level.LOW) == {"level": Level.HIGH, "high": False}
    assert runner.execute(level=Level.HIGH)["level"] is Level.LOW


def venue_input(venue: Signal[Venue]) -> Signal[int]:  # <- error
    return 1


def venue_state(x: Signal[int]) -> Signal[int]:
    venue: State[Venue] = Venue.LSE  # <- error
    return x


def venue_param(x: Signal[int], venue: Venue) -> Signal[int]:  # <- error
    return x


def test_enum_with_non_int_values_is_not_a_supported_type():
    rejected(venue_input, at="venue")
    rejected(venue_state, at="State[Venue]")
    rejected(venue_param, at="venue", venue=Venue.LSE)


def unknown_member(side: Signal[Side]) -> Signal[bool]:
    return side == Side.HOLD  # <- error


def test_unknown_enum_member_is_rejected():
    rejected(unknown_member)


# =============================================================================================
# Structs
# =============================================================================================


class Quote(ctypes.Structure):
    _fields_ = [
        ("bid", ctypes.c_double),
        ("size", ctypes.c_int32),
        ("live", ctypes.c_bool),
        ("seq", ctypes.c_int64),
        ("side", ctypes.c_int64),
        ("ts", ctypes.c_int64),
        ("venue", ctypes.c_char_p),  # not a cell type: invisible to node code
    ]
    _ncc_field_types_ = {"side": Side, "ts": datetime}


class Tally(ctypes.Structure):
    _fields_ = [
        ("total", ctypes.c_double),
        ("count", ctypes.c_int32),
        ("flag", ctypes.c_bool),
        ("big", ctypes.c_int64),
        ("last", ctypes.c_int64),
        ("side", ctypes.c_int64),
    ]
    _ncc_field_types_ = {"last": datetime, "side": Side}


def reads_quote(q: Signal[Quote]) -> Outputs(
    bid=Signal[float], size=Signal[int], live=Signal[bool], seq=Signal[int], sell=Signal[bool], side=Signal[Side],
    ts=Signal[datetime], later=Signal[datetime], notional=Signal[float],
):
    output(bid=q.bid, size=q.size, live=q.live, seq=q.seq, sell=q.side == Side.SELL, side=q.side)
    output(ts=q.ts, later=q.ts + timedelta(seconds=1), notional=q.bid * q.size)


@pytest.fixture(scope="module")
def quote_runner() -> NodeRunner:
    return started(compile_node(reads_quote))


def test_struct_input_field_reads(quote_runner):
    ts = datetime(2024, 5, 6, 7, 8, 9, 10, tzinfo=UTC)
    out = quote_runner.execute(q=Quote(1.25, -7, True, 2**40, Side.SELL, ns(ts), b"X"))
    assert out == {
        "bid": 1.25, "size": -7, "live": True, "seq": 2**40, "sell": True, "side": Side.SELL,
        "ts": ts, "later": ts + timedelta(seconds=1), "notional": -8.75,
    }
    assert out["live"] is True and out["side"] is Side.SELL and is_utc_datetime(out["ts"])
    out = quote_runner.execute(q=Quote(-0.5, 2**31 - 1, False, -(2**63), Side.BUY, ns(datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC))))
    assert out["size"] == 2**31 - 1 and out["live"] is False and out["seq"] == -(2**63)
    assert out["side"] is Side.BUY and out["sell"] is False
    assert out["ts"] == datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC)


def test_struct_input_is_read_where_the_host_points(quote_runner):
    quote = Quote(bid=2.0, size=3, side=Side.BUY)
    assert quote_runner.execute(q=quote)["notional"] == 6.0
    quote.bid = 4.0  # the node reads host memory, not a copy made at some earlier call
    assert quote_runner.execute(q=quote)["notional"] == 12.0


def tally(x: Signal[float], t: Signal[datetime]) -> Outputs(
    total=Signal[float], count=Signal[int], flag=Signal[bool], big=Signal[int], last=Signal[datetime], calls=Signal[int]
):
    calls: State[int] = 100
    s: State[Tally]
    s.total += x
    s.count += 1
    s.big = s.big + 2**33
    s.flag = not s.flag
    if ticked(t):
        s.last = t + STEP
    s.side = Side.SELL
    calls += 1
    output(total=s.total, count=s.count, flag=s.flag, big=s.big, last=s.last, calls=calls)


@pytest.fixture(scope="module")
def tally_result():
    return compile_node(tally)


def test_struct_state_is_reported_as_host_memory_of_its_size(tally_result):
    assert tally_result.struct_state_indices == [1]
    assert tally_result.struct_state_sizes == [ctypes.sizeof(Tally)]
    assert tally_result.state_values[0] == 100
    assert len(tally_result.state_values) == 2


def test_struct_state_field_writes_persist_in_host_memory(tally_result):
    runner = started(tally_result)
    memory = runner._state.buffers[1]
    assert ctypes.sizeof(memory) == ctypes.sizeof(Tally)
    view = Tally.from_buffer(memory)
    t = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert runner.execute(x=1.5) == {"total": 1.5, "count": 1, "flag": True, "big": 2**33, "last": EPOCH, "calls": 101}
    out = runner.execute(x=2.25, t=t)
    assert out == {"total": 3.75, "count": 2, "flag": False, "big": 2**34, "last": t + STEP, "calls": 102}
    assert (view.total, view.count, view.flag, view.big, view.last, view.side) == (3.75, 2, False, 2**34, ns(t + STEP), -1)
    # the host may change its struct between calls; the node sees the change
    view.count = 40
    view.total = -1.0
    assert runner.execute(x=1.0)["count"] == 41
    assert view.total == 0.0


def write_input_field(q: Signal[Quote]) -> Signal[float]:
    q.bid = 1.0  # <- error
    return 1.0


def augassign_input_field(q: Signal[Quote]) -> Signal[float]:
    q.size += 1  # <- error
    return 1.0


def test_struct_inputs_are_read_only():
    err = rejected(write_input_field, at="q.bid")
    assert "read-only" in err.message
    err = rejected(augassign_input_field, at="q.size")
    assert "read-only" in err.message


def unknown_field_read(q: Signal[Quote]) -> Signal[float]:
    return q.ask  # <- error


def hidden_field_read(q: Signal[Quote]) -> Signal[float]:
    return q.venue  # <- error


def unknown_field_write(x: Signal[float]) -> Signal[float]:
    s: State[Tally]
    s.totl = x  # <- error
    return x


def unknown_field_augassign(x: Signal[float]) -> Signal[float]:
    s: State[Tally]
    s.totl += x  # <- error
    return x


def test_unknown_struct_fields_are_rejected():
    assert "ask" in rejected(unknown_field_read, at="q.ask").message
    assert "venue" in rejected(hidden_field_read, at="q.venue").message
    assert "totl" in rejected(unknown_field_write, at="s.totl").message
    assert "totl" in rejected(unknown_field_augassign, at="s.totl").message


def float_into_int_field(x: Signal[float]) -> Signal[float]:
    s: State[Tally]
    s.count = x  # <- error
    return x


def struct_state_with_value(x: Signal[float]) -> Signal[float]:
    s: State[Tally] = 3  # <- error
    return x


def test_struct_field_type_and_initial_value_errors():
    rejected(float_into_int_field)
    rejected(struct_state_with_value)


# -- a custom StructType, written the way the seed README says ----------------------------------


class Vec3:
    """A host struct not described by ctypes: field name -> (offset, Python type, storage)."""

    LAYOUT = {"x": (0, float, None), "y": (8, float, None), "z": (16, float, None), "tag": (24, int, "int32"), "on": (28, bool, "int8")}
    SIZE = 32


class Vec3Memory(ctypes.Structure):  # the host's memory for a Vec3
    _fields_ = [("x", ctypes.c_double), ("y", ctypes.c_double), ("z", ctypes.c_double), ("tag", ctypes.c_int32), ("on", ctypes.c_int8)]


@dataclass(frozen=True)
class Vec3Type(StructType):
    @classmethod
    def is_type_supported(cls, var_type) -> bool:
        return var_type is Vec3

    def _get_struct_fields(self) -> dict:
        return {name: StructField(offset, py, storage) for name, (offset, py, storage) in Vec3.LAYOUT.items()}

    def _get_struct_size(self) -> int:
        return Vec3.SIZE


def vec_node(v: Signal[Vec3]) -> Outputs(norm2=Signal[float], tag=Signal[int], on=Signal[bool], acc=Signal[float], n=Signal[int]):
    acc: State[Vec3]
    acc.x += v.x
    acc.y += v.y
    acc.z = acc.z + v.z
    acc.tag += 1
    acc.on = v.on
    output(norm2=v.x * v.x + v.y * v.y + v.z * v.z, tag=v.tag, on=acc.on)
    output(acc=acc.x + acc.y + acc.z, n=acc.tag)


def test_custom_struct_type_registered_in_a_fresh_context():
    assert ctypes.sizeof(Vec3Memory) == Vec3.SIZE
    outer = CompilationContext.current()
    with CompilationContext() as ctx:
        register_all()
        host.register()
        with pytest.raises(CompilationError):
            compile_node(vec_node)  # Vec3 means nothing before its type is registered
        TypeFactory.register(Vec3Type)
        result = compile_node(vec_node)
        assert CompilationContext.current() is ctx
    assert CompilationContext.current() is outer
    assert result.struct_state_indices == [0] and result.struct_state_sizes == [32]
    runner = started(result)
    out = runner.execute(v=Vec3Memory(1.0, 2.0, 3.0, -9, 1))
    assert out == {"norm2": 14.0, "tag": -9, "on": True, "acc": 6.0, "n": 1}
    out = runner.execute(v=Vec3Memory(0.5, 0.0, -1.0, 2**31 - 1, 0))
    assert out == {"norm2": 1.25, "tag": 2**31 - 1, "on": False, "acc": 5.5, "n": 2}
    state = Vec3Memory.from_buffer(runner._state.buffers[0])
    assert (state.x, state.y, state.z, state.tag, state.on) == (1.5, 2.0, 2.0, 2, 0)
    # the registration stayed in its context
    with pytest.raises(CompilationError):
        compile_node(vec_node)
