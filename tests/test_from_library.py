"""`NodeRunner.from_library` (SPEC §7, issue 9): a node of an AOT library driven from Python with no
compiler — same start/execute/stop/state behaviour as `NodeRunner(result)` on the same node
compiled in this process, faults as `NodeRuntimeError`, and Numba never imported.

No ``from __future__ import annotations``: node annotations are evaluated when the node is defined.
"""

import ctypes
import enum
import json
import platform
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from numba_rt.abi import ErrorCode
from numba_cfunc_compiler import NumbaDict, NumbaList, State, create_new_dict, create_new_list
from numba_cfunc_compiler.aot import LibraryError, build_library
from numba_cfunc_compiler.host import NodeRunner, NodeRuntimeError, Outputs, Signal, compile_node, output, start, ticked
from numba_cfunc_compiler.host.library import SlotCodec

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="AOT libraries are ELF shared objects")

UTC = timezone.utc
T0 = datetime(2024, 3, 1, 12, 30, tzinfo=UTC)


class Side(enum.IntEnum):
    BUY = 1
    SELL = 2


class Colour(enum.Enum):  # a plain Enum: members are not ints
    RED = 1
    BLUE = 2


class Stats(ctypes.Structure):
    _fields_ = [("count", ctypes.c_int64), ("total", ctypes.c_double)]


def ema(x: Signal[float], alpha: float) -> Signal[float]:
    avg: State[float] = 0.0
    if ticked(x):
        avg = alpha * x + (1 - alpha) * avg
        return avg


def tally(x: Signal[int]) -> Outputs(total=Signal[int], even=Signal[bool]):
    total: State[int] = 100
    with start():
        total += 1
    if ticked(x):
        total += x
        output(total=total)
        if x % 2 == 0:
            output(even=True)


def keep(x: Signal[float], k: Signal[int], side: Signal[Side]) -> Signal[int]:
    xs: State[NumbaList[float]] = create_new_list(float)
    seen: State[NumbaDict[int, bool]] = create_new_dict(int, bool)
    last: State[Side] = Side.BUY
    flag: State[bool] = False
    if ticked(x):
        xs.append(x)
    if ticked(k):
        seen[k] = k > 0
        flag = k > 0
    if ticked(side):
        last = side
    return len(xs)


def stamp(t: Signal[datetime], gap: Signal[timedelta], side: Signal[Side]) -> Outputs(
    later=Signal[datetime], since=Signal[timedelta], side_out=Signal[Side]
):
    last: State[datetime] = T0
    if ticked(t):
        output(later=t + gap, since=t - last)
        last = t
    if ticked(side):
        output(side_out=side)


def paint(c: Signal[Colour]) -> Signal[Colour]:
    return c


def track(x: Signal[float]) -> Outputs(count=Signal[int], mean=Signal[float]):
    stats: State[Stats]
    stats.count += 1
    stats.total += x
    output(count=stats.count, mean=stats.total / stats.count)


def ratio(a: Signal[int], b: Signal[int]) -> Signal[int]:
    return a // b


def lookup(k: Signal[int], table: NumbaDict[int, float]) -> Signal[float]:
    return table[k]


#: name -> (node, constants, steps). A step is "start", "stop", a dict of inputs (one EXECUTE) or
#: ("state", name).
SCENARIOS = {
    "ema": (ema, {"alpha": 0.5}, ["start", {"x": 10.0}, {}, {"x": 20}, ("state", "avg"), "stop"]),
    "tally": (tally, {}, ["start", ("state", "total"), {"x": 5}, {"x": 20}, {}, ("state", "total"), "stop"]),
    "keep": (keep, {}, [
        ("state", "xs"), "start", {"x": 1.5}, {"k": 7, "x": 2.5}, {"k": -3, "side": Side.SELL},
        ("state", "xs"), ("state", "seen"), ("state", "last"), ("state", "flag"), "stop", ("state", "xs"),
    ]),
    "stamp": (stamp, {}, [
        "start", {"t": T0 + timedelta(hours=1), "gap": timedelta(seconds=90)}, {"side": Side.SELL},
        {"t": T0 + timedelta(days=2, microseconds=7)}, ("state", "last"), "stop",
    ]),
    "track": (track, {}, ["start", {"x": 2.0}, {"x": 4.0}, ("state", "stats"), "stop"]),
    "ratio": (ratio, {}, ["start", {"a": 7, "b": 2}, {"b": 0}, {"a": -7, "b": 2}, "stop"]),
    "lookup": (lookup, {"table": {1: 2.5, 3: -0.5}}, ["start", {"k": 1}, {"k": 2}, {"k": 3}, ("state", "table"), "stop"]),
}  # fmt: skip


def plain(value):
    """A value as JSON data, the same for both runners (enums as ints, structs as their bytes)."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return ["datetime", value.isoformat()]
    if isinstance(value, timedelta):
        return ["timedelta", value.days, value.seconds, value.microseconds]
    if isinstance(value, ctypes.Structure):
        return ["bytes", bytes(value).hex()]
    if isinstance(value, bytes):
        return ["bytes", value.hex()]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def run(runner, steps):
    """What each step gives: outputs, state values, or the fault (code, message, entry)."""
    seen = []
    for step in steps:
        try:
            if step in ("start", "stop"):
                seen.append(getattr(runner, step)())
            elif isinstance(step, tuple):
                seen.append(plain(runner.state(step[1])))
            else:
                seen.append(plain(runner.execute(**step)))
        except NodeRuntimeError as exc:
            seen.append(["fault", exc.code, exc.message, exc.entry])
    return seen


@pytest.fixture(scope="module")
def results():
    return {name: compile_node(func, **constants) for name, (func, constants, _) in SCENARIOS.items()}


@pytest.fixture(scope="module")
def built(results, tmp_path_factory):
    if shutil.which("cc") is None:
        pytest.fail("no C compiler (`cc`) on PATH; AOT libraries need one (CI has it)")
    return build_library(results.values(), tmp_path_factory.mktemp("from_library"), "fromlib")


@pytest.mark.parametrize("name", SCENARIOS)
def test_library_node_runs_like_the_in_process_one(name, results, built):
    steps = SCENARIOS[name][2]
    expected = run(NodeRunner(results[name]), steps)
    native_name = results[name].native_name
    assert run(NodeRunner.from_library(built.library, native_name), steps) == expected
    assert run(NodeRunner.from_library(built.manifest, name), steps) == expected  # manifest path, qualname


def test_values_and_layout(results, built):
    runner = NodeRunner.from_library(built.library, "stamp")
    assert runner.result is None and runner.native_name == results["stamp"].native_name
    assert (runner.input_names, runner.output_names, runner.state_names) == (["t", "gap", "side"], ["later", "since", "side_out"], ["last"])
    runner.start()
    out = runner.execute(t=T0, gap=timedelta(minutes=1), side=2)
    assert out == {"later": T0 + timedelta(minutes=1), "since": timedelta(0), "side_out": 2}
    assert out["later"].tzinfo is not None and type(out["side_out"]) is int  # no enum class given: its value
    assert runner.state("last") == T0

    typed = NodeRunner.from_library(built.library, "stamp", types={"Side": Side})
    typed.start()
    assert typed.execute(side=Side.BUY) == {"side_out": Side.BUY}
    assert type(typed.execute(side=2)["side_out"]) is Side
    with pytest.raises(TypeError, match=r"input 'side' of stamp takes Side, got int 5"):
        typed.execute(side=5)

    keep_runner = NodeRunner.from_library(built.library, "keep", types={"Side": Side})
    keep_runner.start()
    keep_runner.execute(side=Side.SELL, k=1)
    assert keep_runner.state("last") is Side.SELL and keep_runner.state("flag") is True
    keep_runner.stop()


def test_plain_enum_and_struct_types(built, tmp_path):
    paint_result = compile_node(paint)
    files = build_library([paint_result, compile_node(track)], tmp_path, "typed")
    raw = NodeRunner.from_library(files.library, "paint")
    raw.start()
    assert raw.execute(c=Colour.BLUE) == 2  # any member with an int value, as its value
    typed = NodeRunner.from_library(files.library, "paint", types={"Colour": Colour})
    typed.start()
    assert typed.execute(c=Colour.RED) is Colour.RED and typed.execute(c=2) is Colour.BLUE
    in_process = NodeRunner(paint_result)
    in_process.start()
    assert in_process.execute(c=Colour.RED) is Colour.RED

    track_runner = NodeRunner.from_library(files.library, "track", types={"Stats": Stats})
    track_runner.start()
    track_runner.execute(x=3.0)
    stats = track_runner.state("stats")
    assert isinstance(stats, Stats) and (stats.count, stats.total) == (1, 3.0)
    untyped = NodeRunner.from_library(files.library, "track")
    untyped.start()
    untyped.execute(x=3.0)
    assert untyped.state("stats") == bytes(stats)
    with pytest.raises(TypeError, match=r"types\['Stats'\] must be an enum class"):
        NodeRunner.from_library(files.library, "track", types={"Stats": 3})


def test_faults_raise_node_runtime_error(results, built):
    runner = NodeRunner.from_library(built.library, results["ratio"].native_name)
    runner.start()
    assert runner.execute(a=9, b=2) == 4
    with pytest.raises(NodeRuntimeError) as info:
        runner.execute(b=0)
    assert info.value.code == ErrorCode.DIVISION_BY_ZERO
    assert info.value.entry == results["ratio"].native_name
    assert runner.execute(b=3) == 3  # the record was cleared: the next call runs normally

    lookup_runner = NodeRunner.from_library(built.library, "lookup")
    lookup_runner.start()
    with pytest.raises(NodeRuntimeError) as info:
        lookup_runner.execute(k=2)
    assert info.value.code == ErrorCode.KEY


def test_input_errors_match_the_in_process_runner(results, built):
    for runner in (NodeRunner(results["ema"]), NodeRunner.from_library(built.library, "ema")):
        runner.start()
        with pytest.raises(TypeError, match=r"input 'x' of ema takes float, got str 'a'"):
            runner.execute(x="a")
        with pytest.raises(TypeError, match=r"ema has no input 'xx'; did you mean 'x'\? \(inputs: x\)"):
            runner.execute(xx=1.0)
        with pytest.raises(KeyError, match=r"no state variable 'avgg'; did you mean 'avg'\?"):
            runner.state("avgg")
    stamp_runner = NodeRunner.from_library(built.library, "stamp")
    with pytest.raises(ValueError, match="input 't' of stamp: naive datetime"):
        stamp_runner.execute(t=datetime(2024, 1, 1))


def test_unknown_or_ambiguous_node_names(results, built, tmp_path):
    with pytest.raises(KeyError) as info:
        NodeRunner.from_library(built.library, "emma")
    message = str(info.value)
    assert "libfromlib.so has no node 'emma'; did you mean 'ema'?" in message
    for result in results.values():
        assert f"{result.native_name} ({result.qualname})" in message

    fast, slow = compile_node(ema, alpha=0.5), compile_node(ema, alpha=0.25)
    files = build_library([fast, slow], tmp_path, "twice")
    with pytest.raises(KeyError, match=rf"2 nodes of libtwice.so are named 'ema'.*{slow.native_name}"):
        NodeRunner.from_library(files.library, "ema")
    runner = NodeRunner.from_library(files.library, slow.native_name)
    runner.start()
    assert runner.execute(x=4.0) == 1.0


def test_foreign_or_missing_library_is_refused(built, tmp_path):
    for path in (built.library, built.runtime):
        shutil.copy2(path, tmp_path / path.name)
    manifest = json.loads(built.manifest.read_text())
    other = "aarch64" if platform.machine() != "aarch64" else "x86_64"
    manifest["toolchain"].update(machine=other, triple=f"{other}-unknown-linux-gnu")
    (tmp_path / built.manifest.name).write_text(json.dumps(manifest))
    with pytest.raises(LibraryError, match=rf"built for {other} on linux .*this machine is {platform.machine()}"):
        NodeRunner.from_library(tmp_path / built.library.name, "ema")

    (tmp_path / built.manifest.name).unlink()
    with pytest.raises(FileNotFoundError, match=r"no manifest fromlib.json next to .*libfromlib.so"):
        NodeRunner.from_library(tmp_path / built.library.name, "ema")
    with pytest.raises(TypeError, match=r"NodeRunner.from_library\(path, name\)"):
        NodeRunner(str(built.library))


def test_slot_codec_agrees_with_the_built_in_types():
    from numba_cfunc_compiler.defaults.datetimes import DateTimeType, TimeDeltaType
    from numba_cfunc_compiler.defaults.enums import EnumType
    from numba_cfunc_compiler.defaults.primitives import BoolType, FloatType, IntType

    cases = [
        (IntType(int), [0, -5, 2**62, True]),
        (FloatType(float), [1.5, 3, -0.0]),
        (BoolType(bool), [True, False, 0, 1]),
        (DateTimeType(datetime), [T0, T0 + timedelta(microseconds=3), datetime(1969, 12, 31, 23, tzinfo=UTC), 5]),
        (TimeDeltaType(timedelta), [timedelta(days=-1, microseconds=1), timedelta(0), 1_500]),
        (EnumType(Side), [Side.BUY, 2]),
    ]
    for var_type, values in cases:
        slot = var_type.value_slot("v")
        codec = SlotCodec(slot.type, slot.cell, Side if isinstance(var_type, EnumType) else None)
        assert codec.describe() == var_type.describe()
        for value in values:
            encoded = var_type.host_encode(value)
            assert codec.host_encode(value) == encoded, (var_type, value)
            assert codec.host_decode(encoded) == var_type.host_decode(encoded), (var_type, value)
        for bad in ("x", 1.5j, []):
            with pytest.raises(TypeError):
                var_type.host_encode(bad)
            with pytest.raises(TypeError):
                codec.host_encode(bad)
    with pytest.raises(ValueError, match="does not fit"):
        SlotCodec("int", "int64").host_encode(2**63)


def test_numba_is_never_imported(results, built, tmp_path):
    """A process that only drives the library: no numba, no llvmlite. Then, in the same process, a
    compile puts the package's runtime in the global symbol scope: faults are still seen."""
    # The scenarios are replayed from JSON: the subprocess must not import this test module (it
    # compiles). Inputs are made plain (enum members as ints, datetimes as tagged values).
    plan = {
        name: [step if not isinstance(step, dict) else {k: encode_input(v) for k, v in step.items()} for step in steps]
        for name, (_, _, steps) in SCENARIOS.items()
    }
    script = tmp_path / "drive.py"  # a file: compile_node needs the source of the node it defines
    script.write_text(DRIVER.format(library=str(built.library), plan=json.dumps(plan)))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["imported"] == [], "driving a library imported " + ", ".join(report["imported"])
    for name, (_, _, steps) in SCENARIOS.items():
        assert report["runs"][name] == run(NodeRunner(results[name]), steps), name
    assert report["fault_after_compile"] == ErrorCode.DIVISION_BY_ZERO


def encode_input(value):
    if isinstance(value, datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, timedelta):
        return {"timedelta": [value.days, value.seconds, value.microseconds]}
    return plain(value)


DRIVER = """
import json, sys
from datetime import datetime, timedelta
from numba_cfunc_compiler.host import NodeRunner, NodeRuntimeError

def decode(value):
    if isinstance(value, dict) and "datetime" in value:
        return datetime.fromisoformat(value["datetime"])
    if isinstance(value, dict) and "timedelta" in value:
        return timedelta(*value["timedelta"])
    return value

def plain(value):
    if isinstance(value, datetime):
        return ["datetime", value.isoformat()]
    if isinstance(value, timedelta):
        return ["timedelta", value.days, value.seconds, value.microseconds]
    if isinstance(value, bytes):
        return ["bytes", value.hex()]
    if isinstance(value, dict):
        return {{str(k): plain(v) for k, v in value.items()}}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value

runs = {{}}
for name, steps in json.loads({plan!r}).items():
    runner = NodeRunner.from_library({library!r}, name)
    seen = runs[name] = []
    for step in steps:
        try:
            if step in ("start", "stop"):
                seen.append(getattr(runner, step)())
            elif isinstance(step, list):
                seen.append(plain(runner.state(step[1])))
            else:
                seen.append(plain(runner.execute(**{{k: decode(v) for k, v in step.items()}})))
        except NodeRuntimeError as exc:
            seen.append(["fault", exc.code, exc.message, exc.entry])
imported = [m for m in ("numba", "llvmlite") if m in sys.modules]

from numba_cfunc_compiler.host import Signal, compile_node

def twice(x: Signal[int]) -> Signal[int]:
    return 2 * x

NodeRunner(compile_node(twice)).start()  # the package's runtime is now in the global scope
runner = NodeRunner.from_library({library!r}, "ratio")
runner.start()
try:
    runner.execute(a=1, b=0)
    code = None
except NodeRuntimeError as exc:
    code = exc.code
print(json.dumps({{"imported": imported, "runs": runs, "fault_after_compile": code}}))
"""
