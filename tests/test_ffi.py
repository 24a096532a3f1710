"""Host C functions called from compiled nodes (`utils/ffi.py`) and module-level FFI bitcode
inlining (`post_compilation.link_ffi_bitcode`); seed README "FFI Optimization" and "Module-Level
FFI Bitcode Inlining", SPEC §5/§7.

The host functions are real C: tests/c/ffi_host.c is built with ``cc -shared -fPIC -O2`` and loaded
with ``llvmlite.binding.load_library_permanently``, the way a host application exposes its own
library to JIT-compiled nodes.
"""

import ctypes
import enum
import logging
import re
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import llvmlite.binding as llvm
import pytest

import numba_rt
from numba_cfunc_compiler import State
from numba_cfunc_compiler.host import Outputs, Signal, compile_node, output, ticked
from numba_cfunc_compiler.numba_core import CompilationOptions
from numba_cfunc_compiler.post_compilation import host_target_machine, link_ffi_bitcode, optimize, strip_target_attributes
from numba_cfunc_compiler.utils.ffi import FFIFunction

from conftest import CellArray, NCC_EXECUTE, NCC_START, rejected, started

C_SOURCE = Path(__file__).parent / "c" / "ffi_host.c"

# the host's functions, declared once where node code can see them
fee = FFIFunction("ncc_test_fee", "float64", ("float64",), pure=True)
add_i64 = FFIFunction("ncc_test_ffi_add_i64", "int64", ("int64", "int64"), pure=True)
scale = FFIFunction("ncc_test_ffi_scale", "float64", ("float64", "float64"), pure=True)
mixed = FFIFunction("ncc_test_ffi_mixed", "float64", ("int64", "float64"))  # not declared pure
floor_div = FFIFunction("ncc_test_ffi_floor_div", "int64", ("float64", "int64"), pure=True)
best_bid = FFIFunction("ncc_test_book_best_bid", "float64", ("voidptr",), pure=True)
book_mid = FFIFunction("ncc_test_book_mid", "float64", ("voidptr",), pure=True)
bump = FFIFunction("ncc_test_ffi_bump", "int64", ("int64",))
counter = FFIFunction("ncc_test_ffi_counter", "int64", ())
counter_reset = FFIFunction("ncc_test_ffi_counter_reset", "void", ())
missing = FFIFunction("ncc_test_ffi_not_in_any_library", "float64", ("float64",), pure=True)

PURE = ["ncc_test_ffi_add_i64", "ncc_test_ffi_scale", "ncc_test_ffi_floor_div", "ncc_test_book_best_bid", "ncc_test_book_mid"]
IMPURE = ["ncc_test_ffi_mixed", "ncc_test_ffi_bump", "ncc_test_ffi_counter", "ncc_test_ffi_counter_reset"]


class Book(ctypes.Structure):
    """The host's order book (``ncc_test_book`` in ffi_host.c)."""

    _fields_ = [("bid_px", ctypes.c_double * 4), ("ask_px", ctypes.c_double * 4), ("depth", ctypes.c_int64)]


def make_book(bids, asks) -> Book:
    return Book((ctypes.c_double * 4)(*bids), (ctypes.c_double * 4)(*asks), len(bids))


@pytest.fixture(scope="module")
def ffi_library(tmp_path_factory) -> ctypes.CDLL:
    """ffi_host.c built into a shared library and loaded into the process for JIT-compiled code."""
    path = tmp_path_factory.mktemp("ffi") / "libncc_test_ffi_host.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-o", str(path), str(C_SOURCE)], check=True, capture_output=True)
    llvm.load_library_permanently(str(path))
    lib = ctypes.CDLL(str(path))  # the same loaded image: tests read the counter through it
    lib.ncc_test_ffi_counter.restype = ctypes.c_int64
    return lib





def calls_to(ir: str, name: str) -> list[str]:
    return re.findall(rf'\bcall\b[^\n]*@"?{re.escape(name)}"?\(', ir)


def declaration_attributes(ir: str, name: str) -> set[str]:
    """The function attributes of the declaration of ``name`` in ``ir``, as words."""
    fn = llvm.parse_assembly(ir).get_function(name)
    assert fn.is_declaration, name
    return {word for group in fn.attributes for word in group.decode().split()}


def function_attributes(module: llvm.ModuleRef, name: str) -> str:
    return " ".join(group.decode() for group in module.get_function(name).attributes)


def good_node(x: Signal[int]) -> Signal[int]:
    return x + 1


def still_compiles() -> None:
    runner = started(compile_node(good_node))
    assert runner.execute(x=41) == 42


# =============================================================================================
# Acceptance: struct field, enum comparison, datetime + timedelta and a host C function
# =============================================================================================


class Side(enum.IntEnum):
    BUY = 1
    SELL = -1


class Order(ctypes.Structure):
    _fields_ = [("price", ctypes.c_double), ("qty", ctypes.c_int32), ("side", ctypes.c_int64)]
    _ncc_field_types_ = {"side": Side}


START = datetime(2024, 1, 1, tzinfo=timezone.utc)


def order_node(order: Signal[Order], now: Signal[datetime]) -> Outputs(
    cost=Signal[float], deadline=Signal[datetime], late=Signal[bool]
):
    last: State[datetime] = START
    if ticked(order):
        notional = order.price * order.qty
        if order.side == Side.SELL:
            notional = -notional
        output(cost=notional + fee(abs(notional)))
    if ticked(now):
        deadline = now + timedelta(minutes=5)
        output(deadline=deadline, late=(now - last).total_seconds() > 60.0)
        last = now


def test_a_node_that_reads_a_struct_field_compares_an_enum_adds_a_timedelta_and_calls_a_host_function(ffi_library):
    """A node that reads a struct field, compares an enum, adds a timedelta to a datetime input and
    calls a host function runs correctly through the reference host."""
    result = compile_node(order_node)
    runner = started(result)
    assert runner.execute(order=Order(100.0, 3, Side.SELL)) == {"cost": -300.0 + 300.0 * 0.001}
    assert runner.execute(order=Order(101.5, 2, Side.BUY)) == {"cost": 203.0 + 203.0 * 0.001}
    at = datetime(2024, 1, 1, 0, 0, 30, tzinfo=timezone.utc)
    out = runner.execute(now=at)
    assert out == {"deadline": datetime(2024, 1, 1, 0, 5, 30, tzinfo=timezone.utc), "late": False}
    assert out["deadline"].utcoffset() == timedelta(0)
    out = runner.execute(order=Order(10.0, 1, Side.SELL), now=at + timedelta(seconds=90))
    assert out == {"cost": -10.0 + 0.01, "deadline": datetime(2024, 1, 1, 0, 7, tzinfo=timezone.utc), "late": True}
    assert "ncc_test_fee" in result.llvm_ir and calls_to(result.llvm_ir, "ncc_test_fee")


# =============================================================================================
# Calling C functions
# =============================================================================================


def calls(a: Signal[int], b: Signal[int], x: Signal[float], book: Signal[Book]) -> Outputs(
    total=Signal[int], scaled=Signal[float], mixed=Signal[float], quotient=Signal[int],
    best=Signal[float], mid=Signal[float], crossed=Signal[bool],
):
    output(total=add_i64(a, b), scaled=scale(x, 2.5), mixed=mixed(a, x), quotient=floor_div(x, b))
    if ticked(book):
        best = best_bid(book)
        output(best=best, mid=book_mid(book), crossed=best >= book_mid(book))


@pytest.fixture(scope="module")
def calls_result(ffi_library):
    return compile_node(calls)


def test_c_functions_with_int64_and_double_arguments_and_results(calls_result):
    runner = started(calls_result)
    out = runner.execute(a=2, b=40, x=1.5)
    assert out == {"total": 42, "scaled": 3.75, "mixed": 2.5, "quotient": 0}
    assert type(out["total"]) is int and type(out["quotient"]) is int
    out = runner.execute(a=-(2**40), b=-7, x=-100.25)
    assert out == {"total": -(2**40) - 7, "scaled": -250.625, "mixed": float(-(2**40)) * -100.25 - 0.5, "quotient": 14}


def test_c_function_reads_a_struct_the_host_owns_through_a_void_pointer(calls_result):
    runner = started(calls_result)
    book = make_book([99.5, 99.75, 99.0], [100.25])
    out = runner.execute(a=1, b=1, x=0.0, book=book)
    assert (out["best"], out["mid"], out["crossed"]) == (99.75, (99.5 + 100.25) / 2, False)
    book.bid_px[3] = 101.0
    book.depth = 4  # the C function sees the host's current memory
    out = runner.execute(book=book)
    assert (out["best"], out["crossed"]) == (101.0, True)
    assert runner.execute(book=make_book([], [0.0]))["best"] == 0.0


def side_effects(k: Signal[int]) -> Outputs(first=Signal[int], second=Signal[int], seen=Signal[int]):
    first = bump(k)
    second = bump(k)
    output(first=first, second=second, seen=counter())
    if k == 0:
        counter_reset()


@pytest.fixture(scope="module")
def side_effects_result(ffi_library):
    return compile_node(side_effects)


def test_functions_not_declared_pure_run_every_time(side_effects_result, ffi_library):
    ffi_library.ncc_test_ffi_counter_reset()
    runner = started(side_effects_result)
    assert runner.execute(k=5) == {"first": 5, "second": 10, "seen": 10}
    assert runner.execute(k=-1) == {"first": 9, "second": 8, "seen": 8}
    assert ffi_library.ncc_test_ffi_counter() == 8
    runner.execute(k=0)  # calls the void function
    assert ffi_library.ncc_test_ffi_counter() == 0
    assert len(calls_to(side_effects_result.llvm_ir, "ncc_test_ffi_bump")) == 2


@pytest.mark.parametrize("options", [None, CompilationOptions(), CompilationOptions(fastmath=True, force_inline=True)])
def test_pure_declarations_carry_nounwind_and_readonly_and_others_do_not(ffi_library, calls_result, side_effects_result, options):
    if options is None:
        results = [calls_result, side_effects_result]
    else:
        results = [compile_node(calls, options=options), compile_node(side_effects, options=options)]
    for name in PURE:
        attrs = declaration_attributes(results[0].llvm_ir, name)
        assert "nounwind" in attrs, (name, attrs)
        assert "memory(read)" in attrs or "readonly" in attrs, (name, attrs)
    for result, names in ((results[0], ["ncc_test_ffi_mixed"]), (results[1], IMPURE[1:])):
        for name in names:
            attrs = declaration_attributes(result.llvm_ir, name)
            assert not attrs & {"nounwind", "readonly", "readnone", "memory(read)", "memory(none)"}, (name, attrs)


def twice(x: Signal[float], k: Signal[int]) -> Signal[float]:
    a = scale(x, 2.0)
    b = scale(x, 2.0)
    c = mixed(k, x)
    d = mixed(k, x)
    return a + b + c + d


def test_repeated_pure_calls_are_merged_and_impure_ones_are_not(ffi_library):
    result = compile_node(twice)
    assert len(calls_to(result.llvm_ir, "ncc_test_ffi_scale")) == 1
    assert len(calls_to(result.llvm_ir, "ncc_test_ffi_mixed")) == 2
    assert started(result).execute(x=2.0, k=3) == 4.0 + 4.0 + 5.5 + 5.5


#: registered with LLVM by address, so it must live as long as the process
TRIPLE_PLUS_ONE = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double)(lambda v: v * 3.0 + 1.0)


def test_make_available_registers_a_ctypes_function(ffi_library):
    callback = TRIPLE_PLUS_ONE
    triple = FFIFunction("ncc_test_py_triple_plus_one", "float64", ("float64",), pure=True)
    assert not triple.is_available()
    triple.make_available(callback)
    assert triple.is_available()

    def uses_callback(x: Signal[float]) -> Signal[float]:
        return triple(x) - 1.0

    assert started(compile_node(uses_callback)).execute(x=2.0) == 6.0


def calls_missing(x: Signal[float]) -> Signal[float]:
    y = x * 2.0
    return y + missing(y)  # <- error


def test_calling_a_function_whose_symbol_is_not_available_is_a_compilation_error(ffi_library):
    assert not missing.is_available()
    err = rejected(calls_missing, at="missing(")
    assert "ncc_test_ffi_not_in_any_library" in err.message
    still_compiles()


def too_few_arguments(x: Signal[float]) -> Signal[float]:
    return scale(x)  # <- error


def too_many_arguments(a: Signal[int]) -> Signal[int]:
    return add_i64(a, a, a)  # <- error


def keyword_arguments(x: Signal[float]) -> Signal[float]:
    return scale(x, k=2.0)  # <- error


def no_arguments_expected(a: Signal[int]) -> Signal[int]:
    return counter(a)  # <- error


@pytest.mark.parametrize(
    "func, at",
    [(too_few_arguments, "scale("), (too_many_arguments, "add_i64("), (keyword_arguments, "scale("), (no_arguments_expected, "counter(")],
)
def test_wrong_arguments_are_compilation_errors(ffi_library, func, at):
    rejected(func, at=at)
    still_compiles()


# =============================================================================================
# link_ffi_bitcode
# =============================================================================================

# Accessors a host would compile to bitcode at build time, with the CPU attributes a C compiler puts
# on every function. Same results as ffi_host.c for a book whose levels are sorted best first.
ACCESSORS_IR = r"""
define double @ncc_test_book_best_bid(ptr %book) #0 {
entry:
  %depth.p = getelementptr inbounds i8, ptr %book, i64 64
  %depth = load i64, ptr %depth.p, align 8
  %empty = icmp sle i64 %depth, 0
  %bid = load double, ptr %book, align 8
  %best = select i1 %empty, double 0.000000e+00, double %bid
  ret double %best
}

define double @ncc_test_book_mid(ptr %book) #1 {
entry:
  %bid = load double, ptr %book, align 8
  %ask.p = getelementptr inbounds i8, ptr %book, i64 32
  %ask = load double, ptr %ask.p, align 8
  %sum = fadd double %bid, %ask
  %mid = fmul double %sum, 5.000000e-01
  ret double %mid
}

attributes #0 = { nounwind "target-cpu"="x86-64" "target-features"="+cx8,+sse,+sse2" }
attributes #1 = { nounwind willreturn "target-cpu"="haswell" "target-features"="+avx2,+fma" "tune-cpu"="generic" }
"""

# The same accessor as `clang -O0 -emit-llvm` writes it: noinline and optnone on every function.
ACCESSOR_O0_IR = r"""
define dso_local double @ncc_test_book_mid(ptr noundef %book) #0 {
entry:
  %bid = load double, ptr %book, align 8
  %ask.p = getelementptr inbounds i8, ptr %book, i64 32
  %ask = load double, ptr %ask.p, align 8
  %sum = fadd double %bid, %ask
  %mid = fmul double %sum, 5.000000e-01
  ret double %mid
}

attributes #0 = { noinline nounwind optnone uwtable "frame-pointer"="all" "no-trapping-math"="true" "target-cpu"="x86-64" "target-features"="+cx8,+sse,+sse2,+x87" "tune-cpu"="generic" }
"""

ACCESSORS = ("ncc_test_book_best_bid", "ncc_test_book_mid")


def book_value(book: Signal[Book], w: Signal[float]) -> Signal[float]:
    return best_bid(book) * w + book_mid(book)


def book_mid_only(book: Signal[Book]) -> Signal[float]:
    return book_mid(book) * 2.0


@pytest.fixture(scope="module")
def book_value_result(ffi_library):
    return compile_node(book_value)


def bitcode(ir_text: str) -> bytes:
    return llvm.parse_assembly(ir_text).as_bitcode()


def test_linked_accessors_are_alwaysinline_without_target_attributes(book_value_result):
    module = llvm.parse_assembly(book_value_result.llvm_ir)
    for name in ACCESSORS:
        assert module.get_function(name).is_declaration
        assert calls_to(book_value_result.llvm_ir, name)
    linked = link_ffi_bitcode(module, bitcode(ACCESSORS_IR))
    for name in ACCESSORS:
        fn = linked.get_function(name)
        assert not fn.is_declaration, name
        attrs = function_attributes(linked, name)
        assert "alwaysinline" in attrs.split(), (name, attrs)
        assert "target-cpu" not in attrs and "target-features" not in attrs, (name, attrs)
    assert '"target-cpu"' not in str(linked) and '"target-features"' not in str(linked)
    linked.verify()


def test_after_linking_and_optimizing_the_calls_are_gone(book_value_result):
    linked = link_ffi_bitcode(llvm.parse_assembly(book_value_result.llvm_ir), bitcode(ACCESSORS_IR))
    optimize(linked, host_target_machine())
    text = str(linked)
    for name in ACCESSORS:
        assert calls_to(text, name) == [], name
    assert linked.get_function(book_value_result.native_name).linkage == llvm.Linkage.external


def test_linked_module_still_runs_correctly_in_a_jit(book_value_result):
    numba_rt.load()  # the runtime's error record, which the entry point references
    linked = link_ffi_bitcode(llvm.parse_assembly(book_value_result.llvm_ir), bitcode(ACCESSORS_IR))
    optimize(linked, host_target_machine())
    engine = llvm.create_mcjit_compiler(linked, host_target_machine(jit=True))
    try:
        engine.finalize_object()
        address = engine.get_function_address(book_value_result.native_name)
        assert address
        params = [p.name for p in book_value_result.cfunc_params]
        assert params == ["outputs", "output_ticked", "state", "lifecycle_phase", "inputs", "input_ticked", "input_valid"]
        fn = ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * 3, ctypes.c_int8, *[ctypes.c_void_p] * 3)(address)
        outputs, state, inputs = CellArray(1), CellArray(len(book_value_result.state_values)), CellArray(2)
        output_ticked = (ctypes.c_int8 * 1)()
        input_ticked, input_valid = (ctypes.c_int8 * 2)(1, 1), (ctypes.c_int8 * 2)(1, 1)
        book = make_book([101.0, 100.5, 100.0], [101.5, 102.0, 103.0])
        inputs.pointers[0] = ctypes.addressof(book)  # a struct input points at host memory
        inputs.set(1, "float64", 2.0)
        fn(outputs.pointers, output_ticked, state.pointers, NCC_START, inputs.pointers, input_ticked, input_valid)
        fn(outputs.pointers, output_ticked, state.pointers, NCC_EXECUTE, inputs.pointers, input_ticked, input_valid)
        assert output_ticked[0] == 1
        assert outputs.get(0, "float64") == 101.0 * 2.0 + (101.0 + 101.5) / 2
        book.bid_px[0], book.ask_px[0] = 50.0, 51.0
        output_ticked[0] = 0
        fn(outputs.pointers, output_ticked, state.pointers, NCC_EXECUTE, inputs.pointers, input_ticked, input_valid)
        assert (output_ticked[0], outputs.get(0, "float64")) == (1, 50.0 * 2.0 + 50.5)
    finally:
        engine.close()


def test_invalid_bitcode_returns_the_unchanged_module_and_logs_a_warning(book_value_result, caplog):
    module = llvm.parse_assembly(book_value_result.llvm_ir)
    before = str(module)
    with caplog.at_level(logging.WARNING, logger="numba_cfunc_compiler.post_compilation"):
        result = link_ffi_bitcode(module, b"BC\xc0\xde this is not bitcode")
    assert result is module
    assert str(result) == before
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and r.name == "numba_cfunc_compiler.post_compilation"]
    assert warnings, caplog.text
    for name in ACCESSORS:
        assert result.get_function(name).is_declaration


def test_bitcode_compiled_at_O0_is_inlined_too(ffi_library):
    """`clang -emit-llvm` without -O marks every function noinline optnone; "patching alwaysinline"
    must replace those, or LLVM rejects the module and the calls silently stay external."""
    result = compile_node(book_mid_only)
    linked = link_ffi_bitcode(llvm.parse_assembly(result.llvm_ir), bitcode(ACCESSOR_O0_IR))
    assert not linked.get_function("ncc_test_book_mid").is_declaration
    optimize(linked, host_target_machine())
    assert calls_to(str(linked), "ncc_test_book_mid") == []


def test_strip_target_attributes_keeps_other_attributes_and_drops_empty_groups():
    text = r"""
define double @only_target(double %x) #0 {
  ret double %x
}
define double @mixed(double %x) #1 {
  ret double %x
}
attributes #0 = { "target-cpu"="x86-64" "target-features"="+sse2" }
attributes #1 = { nounwind "target-cpu"="skylake" "target-features"="+avx2" willreturn }
"""
    stripped = strip_target_attributes(text)
    assert "target-cpu" not in stripped and "target-features" not in stripped
    module = llvm.parse_assembly(stripped)
    module.verify()
    assert function_attributes(module, "only_target") == ""
    assert set(function_attributes(module, "mixed").split()) == {"nounwind", "willreturn"}
