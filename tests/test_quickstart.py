"""The seed README's Quick Start, made concrete, and the behaviour of `CompilationContext`."""

from __future__ import annotations

import ast
import asyncio
import contextvars
import inspect
import re
import threading
from dataclasses import dataclass
from types import SimpleNamespace

import llvmlite.binding as llvm
import numba
import pytest

from numba_cfunc_compiler import CompilationError, State
from numba_cfunc_compiler.ast_handlers import ast_handler
from numba_cfunc_compiler.compilation_context import CompilationContext
from numba_cfunc_compiler.defaults import register_all
from numba_cfunc_compiler.models import VariableType
from numba_cfunc_compiler.numba_core import CompilationOptions, create_compiled_func
from numba_cfunc_compiler.type_factory import TypeFactory

from conftest import DirectNode, compile_direct


def _register_bonus_handler(value: float) -> None:
    """A trivial domain extension: the name ``BONUS`` in node code means ``value``."""

    @ast_handler("Name", pre=True)
    def lower_bonus(converter, node):
        if node.id == "BONUS" and isinstance(node.ctx, ast.Load):
            return ast.Constant(value)
        return None


my_domain_extension = SimpleNamespace(register=lambda: _register_bonus_handler(1.0))


def get_type(value):
    return type(value)


def func(x: float, alpha: float) -> float:
    total: State[float] = 0.0
    total += alpha * x + BONUS  # noqa: F821 - lowered by my_domain_extension
    return total


def doubled(x: int) -> int:
    return x * 2


def bonus_value() -> float:
    return BONUS  # noqa: F821 - lowered by the handler registered in each test


@pytest.fixture(scope="module")
def result():
    args = (3.0,)
    with CompilationContext() as ctx:  # noqa: F841 - as in the README
        register_all()
        my_domain_extension.register()
        result = create_compiled_func(
            func, *args,
            alpha=0.5,
            extract_python_type_fn=get_type,
            options=CompilationOptions(fastmath=True, force_inline=True),
        )  # fmt: skip
    return result


# -- the CompilationResult fields ---------------------------------------------------------------


def test_compiled_func_address_is_nonzero(result):
    assert isinstance(result.compiled_func.address, int)
    assert result.compiled_func.address != 0


def test_compiled_func_runs_through_ctypes(result):
    node = DirectNode(result)
    node.start()
    assert node.execute() == [2.5]
    assert node.execute() == [5.0]
    assert node.execute() == [7.5]


def test_compiled_func_ctypes_attribute_is_the_entry_point(result):
    node = DirectNode(result)
    node.fn = result.compiled_func.ctypes
    node.start()
    assert node.execute() == [2.5]


def test_semantic_key_is_16_hex_digits(result):
    assert re.fullmatch(r"[0-9a-f]{16}", result.semantic_key)


def test_native_name_is_prefix_plus_semantic_key(result):
    assert result.native_name == "_gc_numba_" + result.semantic_key


def test_llvm_ir_defines_native_name(result):
    assert re.search(r"define\b[^\n]*@\"?" + re.escape(result.native_name) + r"\"?\(", result.llvm_ir)


def test_llvm_ir_native_name_is_only_external_definition(result):
    module = llvm.parse_assembly(result.llvm_ir)
    module.verify()
    local = {llvm.Linkage.internal, llvm.Linkage.private}
    exported = [
        value.name
        for value in [*module.functions, *module.global_variables]
        if not value.is_declaration and value.linkage not in local
    ]
    assert exported == [result.native_name]


def test_output_types_and_named_outputs(result):
    assert result.output_types == [float]
    assert result.named_outputs is None


def test_metadata_is_a_dict_with_the_documented_keys(result):
    for key in ("state_values", "nrt_state_indices", "struct_state_indices", "struct_state_sizes"):
        assert key in result.metadata
    assert result.metadata["state_values"] == [0.0]


def test_metadata_is_readable_as_attributes(result):
    assert result.state_values == result.metadata["state_values"] == [0.0]
    assert result.nrt_state_indices == []
    assert result.struct_state_indices == []
    assert result.struct_state_sizes == []


def test_unknown_attribute_raises_attribute_error(result):
    with pytest.raises(AttributeError):
        result.no_such_metadata_entry  # noqa: B018


def test_options_do_not_change_results(fresh_context):
    _register_bonus_handler(1.0)
    plain = DirectNode(compile_direct(func, 3.0, alpha=0.5))
    fast = DirectNode(compile_direct(func, 3.0, alpha=0.5, options=CompilationOptions(fastmath=True, force_inline=True)))
    plain.start()
    fast.start()
    for _ in range(3):
        assert plain.execute() == fast.execute()


# -- CompilationContext -------------------------------------------------------------------------


def test_nested_context_restores_previous():
    before = CompilationContext.active()
    with CompilationContext() as outer:
        assert CompilationContext.current() is outer
        with CompilationContext() as inner:
            assert CompilationContext.current() is inner
        assert CompilationContext.current() is outer
    assert CompilationContext.active() is before


def test_reentering_the_same_context_restores_previous():
    with CompilationContext() as outer, CompilationContext() as inner:
        with outer:
            assert CompilationContext.current() is outer
        assert CompilationContext.current() is inner


def test_context_is_restored_after_an_exception():
    with CompilationContext() as outer:
        with pytest.raises(RuntimeError), CompilationContext():
            raise RuntimeError("boom")
        assert CompilationContext.current() is outer


def test_current_without_active_context_builds_default_with_builtins():
    def in_empty_context():
        assert CompilationContext.active() is None
        ctx = CompilationContext.current()
        assert CompilationContext.current() is ctx
        assert TypeFactory.get_type(float) is not None
        node = DirectNode(compile_direct(doubled, 21))
        node.start()
        return node.execute()

    assert contextvars.Context().run(in_empty_context) == [42]


def _compile_bonus_in_new_context(value: float, before_compile=lambda: None) -> list:
    with CompilationContext():
        register_all()
        _register_bonus_handler(value)
        before_compile()
        node = DirectNode(compile_direct(bonus_value))
        node.start()
        return node.execute()


def test_contexts_are_isolated_across_threads():
    barrier = threading.Barrier(2, timeout=60)
    results: dict[float, list] = {}
    errors: list[BaseException] = []

    def worker(value: float) -> None:
        try:
            results[value] = _compile_bonus_in_new_context(value, barrier.wait)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(v,)) for v in (1.5, 2.5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert results == {1.5: [1.5], 2.5: [2.5]}


class ThreadOnly:
    """A Python type only one thread's context knows."""


@dataclass(frozen=True)
class ThreadOnlyType(VariableType):
    def get_numba_type_name(self) -> str:
        return "int64"

    @classmethod
    def is_type_supported(cls, var_type) -> bool:
        return var_type is ThreadOnly


def test_registration_in_one_thread_is_invisible_in_another():
    registered = threading.Event()
    done = threading.Event()
    seen_in_main: list[bool] = []

    def worker() -> None:
        with CompilationContext():
            register_all()
            TypeFactory.register(ThreadOnlyType)
            registered.set()
            done.wait(timeout=60)

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        assert registered.wait(timeout=60)
        with CompilationContext():
            register_all()
            seen_in_main.append(TypeFactory.get_type(ThreadOnly) is not None)
        seen_in_main.append(TypeFactory.get_type(ThreadOnly) is not None)
    finally:
        done.set()
        thread.join()
    assert seen_in_main == [False, False]


def test_contexts_are_isolated_across_asyncio_tasks():
    before = CompilationContext.active()

    async def task(value: float) -> list:
        with CompilationContext() as ctx:
            register_all()
            _register_bonus_handler(value)
            await asyncio.sleep(0)  # the other task now runs with its own context active
            await asyncio.sleep(0)
            assert CompilationContext.current() is ctx
            node = DirectNode(compile_direct(bonus_value))
        node.start()
        return node.execute()

    async def main() -> list:
        return await asyncio.gather(task(3.5), task(4.5))

    assert asyncio.run(main()) == [[3.5], [4.5]]
    assert CompilationContext.active() is before


# -- create_compiled_func arguments (SPEC §4) ----------------------------------------------------

@numba.njit
def plus_hundred(v):
    return v + 100


AST_SOURCE = """
def from_ast(x: float, k: int) -> float:
    total: State[float] = 0.0
    total += x * k
    return helper(total)
"""


def signature_of(**annotations) -> inspect.Signature:
    returns = annotations.pop("returns")
    params = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=a) for n, a in annotations.items()]
    return inspect.Signature(params, return_annotation=returns)


def test_function_given_as_ast_with_signature_and_globals(fresh_context):
    funcdef = ast.parse(AST_SOURCE).body[0]
    result = create_compiled_func(
        funcdef, 1.5, 2,
        extract_python_type_fn=type,
        signature=signature_of(x=float, k=int, returns=float),
        func_globals={"State": State},
        call_globals={"helper": plus_hundred},
    )  # fmt: skip
    node = DirectNode(result)
    node.start()
    assert [node.execute(), node.execute()] == [[103.0], [106.0]]


def test_error_in_a_function_given_as_ast_names_its_line(fresh_context):
    funcdef = ast.parse("def bad(x: float) -> float:\n    return x + nope\n").body[0]
    with pytest.raises(CompilationError) as info:
        create_compiled_func(funcdef, 1.0, extract_python_type_fn=type, signature=signature_of(x=float, returns=float))
    assert info.value.lineno == 2


def helper_from_call_globals(x: float) -> float:
    return helper(x)  # noqa: F821 - given through call_globals


def test_call_globals_are_visible_to_node_code(fresh_context):
    result = create_compiled_func(
        helper_from_call_globals, 1.0, extract_python_type_fn=type, call_globals={"helper": plus_hundred}
    )
    node = DirectNode(result)
    node.start()
    assert node.execute() == [101.0]


def accumulates(x: float) -> float:
    total: State[float] = 0.0
    total += x
    return total


def test_start_body_and_stop_body_run_in_their_phases(fresh_context):
    result = create_compiled_func(
        accumulates, 2.0,
        extract_python_type_fn=type,
        start_body=ast.parse("total = 5.0").body,
        stop_body=ast.parse("total = -1.0").body,
    )  # fmt: skip
    node = DirectNode(result)
    node.start()
    assert node.state_value("total") == 5.0
    assert node.execute() == [7.0]
    node.stop()
    assert node.state_value("total") == -1.0
