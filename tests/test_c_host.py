"""A compiled node driven from C: linked into a C program with no Python in the process, and
called by address through ctypes with hand-built cells."""

from __future__ import annotations

import ctypes
import shutil
import struct
import subprocess
from pathlib import Path

import llvmlite.binding as llvm
import pytest

import numba_rt
from numba_cfunc_compiler import State
from numba_cfunc_compiler.host import Signal, compile_node, ticked

C_DIR = Path(__file__).parent / "c"
ALPHA = 0.5
INPUTS = ["1.0", "2.0", "-", "4.0", "-0.5"]


def ema(x: Signal[float], alpha: float) -> Signal[float]:
    avg: State[float] = -1.0  # no initial value is zero: START must write every cell
    first: State[bool] = True
    count: State[int] = 1000
    if ticked(x):
        if first:
            avg = x
            first = False
        else:
            avg = alpha * x + (1 - alpha) * avg
        count += 1
        return avg


def python_ema(values: list[float | None], alpha: float) -> list[float | None]:
    out: list[float | None] = []
    avg, first = -1.0, True
    for x in values:
        if x is None:
            out.append(None)
            continue
        avg = x if first else alpha * x + (1 - alpha) * avg
        first = False
        out.append(avg)
    return out


@pytest.fixture(scope="module")
def result():
    return compile_node(ema, alpha=ALPHA)


def run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def emit_object(llvm_ir: str, path: Path) -> None:
    module = llvm.parse_assembly(llvm_ir)
    module.verify()
    target = llvm.Target.from_triple(module.triple)
    machine = target.create_target_machine(
        cpu=llvm.get_host_cpu_name(), features=llvm.get_host_cpu_features().flatten(), reloc="pic"
    )
    path.write_bytes(machine.emit_object(module))


@pytest.fixture(scope="module")
def host_binary(result, tmp_path_factory) -> Path:
    cc = shutil.which("cc")
    if cc is None:
        pytest.fail("no C compiler (`cc`) on PATH; one is needed to build the package anyway")
    work = tmp_path_factory.mktemp("c_host")
    (work / "node.ll").write_text(result.llvm_ir)
    emit_object(result.llvm_ir, work / "node.o")
    lib_dir = str(Path(numba_rt.library_path()).parent)
    binary = work / "host_main"
    cmd = [
        cc, "-std=c11", "-Wall", "-Wextra", "-Werror",
        f"-DNODE_FN={result.native_name}", f"-DNODE_STATES={len(result.state_values)}",
        f"-I{numba_rt.include_dir()}", str(C_DIR / "host_main.c"), str(work / "node.o"),
        f"-L{lib_dir}", "-lnumba_rt", f"-Wl,-rpath,{lib_dir}", "-lm", "-o", str(binary),
    ]  # fmt: skip
    built = run(cmd)
    assert built.returncode == 0, built.stderr
    return binary


@pytest.fixture(scope="module")
def host_output(host_binary) -> list[list[str]]:
    completed = run([str(host_binary), *INPUTS])
    assert completed.returncode == 0, completed.stderr
    return [line.split() for line in completed.stdout.splitlines()]


def decode_state(cells: list[str], state_types: list[str]) -> list:
    formats = {"float64": "<d", "int64": "<q", "int8": "<b"}
    values = []
    for cell, cell_type in zip(cells, state_types):
        raw = int(cell, 16).to_bytes(8, "little")
        values.append(struct.unpack_from(formats[cell_type], raw)[0])
    return values


def executes(lines: list[list[str]]) -> list[float | None]:
    return [float(line[2]) if line[1] == "1" else None for line in lines if line[0] == "exec"]


def test_c_host_runs_without_errors(host_output):
    errors = [line[1] for line in host_output if line[0] == "error"]
    assert errors == ["0"] * (len(INPUTS) + 4)


def test_c_host_start_initialises_state(host_output, result):
    assert result.state_values == [-1.0, 1, 1000]
    first_state = next(line for line in host_output if line[0] == "state")
    assert decode_state(first_state[1:], result.state_types) == result.state_values


def test_c_host_outputs_match_python(host_output):
    expected = python_ema([None if v == "-" else float(v) for v in INPUTS], ALPHA)
    assert executes(host_output)[: len(INPUTS)] == expected


def test_c_host_state_survives_stop_twice(host_output, result):
    last_state = [line for line in host_output if line[0] == "state"][-1]
    values = [float(v) for v in INPUTS if v != "-"]
    expected = [python_ema(values, ALPHA)[-1], 0, 1000 + len(values)]
    assert decode_state(last_state[1:], result.state_types) == expected


def test_c_host_executes_after_stop(host_output):
    values = [float(v) for v in INPUTS if v != "-"]
    after_stop = executes(host_output)[-1]
    assert after_stop == python_ema(values + [values[-1]], ALPHA)[-1]


def test_c_host_binary_does_not_link_python(host_binary):
    ldd = shutil.which("ldd")
    if ldd is None:
        pytest.skip("ldd not on PATH")
    linked = run([ldd, str(host_binary)])
    assert "libpython" not in linked.stdout


def test_ctypes_call_by_address_with_hand_built_cells(result):
    out = ctypes.c_double(0.0)
    outputs = (ctypes.c_void_p * 1)(ctypes.addressof(out))
    output_ticked = (ctypes.c_int8 * 1)()
    avg, first, count = ctypes.c_double(123.0), ctypes.c_int8(0), ctypes.c_int64(456)
    state = (ctypes.c_void_p * 3)(ctypes.addressof(avg), ctypes.addressof(first), ctypes.addressof(count))
    x = ctypes.c_double(0.0)
    inputs = (ctypes.c_void_p * 1)(ctypes.addressof(x))
    input_ticked = (ctypes.c_int8 * 1)()
    input_valid = (ctypes.c_int8 * 1)()
    fn = ctypes.CFUNCTYPE(
        None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int8,
        ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
    )(result.address)  # fmt: skip

    def call(phase: int) -> None:
        fn(outputs, output_ticked, state, phase, inputs, input_ticked, input_valid)

    call(1)
    assert (avg.value, first.value, count.value) == (-1.0, 1, 1000)
    seen = []
    for value in (2.0, 6.0, None, 3.0):
        output_ticked[0] = 0
        input_ticked[0] = 0
        if value is not None:
            x.value = value
            input_ticked[0] = input_valid[0] = 1
        call(0)
        seen.append(out.value if output_ticked[0] else None)
    assert seen == [2.0, 4.0, None, 3.5]
    assert (first.value, count.value) == (0, 1003)
