"""A corpus of malformed node functions. Each must raise `CompilationError` naming this file, the
offending line (marked ``# <- error`` below) and a column, quoting the line, and must leave the
active context unchanged and the process able to compile the next node."""

from __future__ import annotations

import math

import numba

from numba_cfunc_compiler import CompilationError, State
from numba_cfunc_compiler.host import NodeRunner, Outputs, Signal, compile_node, output, start, ticked

from conftest import registry_snapshot, rejected



@numba.njit
def pair_product(a, b):
    return a * b


@numba.njit
def window_sum(v):
    values = [v, v * 2.0, v * 3.0]  # a list needs Numba's runtime, which nodes do not have
    total = 0.0
    for item in values:
        total += item
    return total



def good_node(x: Signal[int]) -> Signal[int]:
    return x + 1


def assert_rejected(ctx, func, *, at: str | None = None, **constants) -> CompilationError:
    """Compile ``func``; check the error's location and that nothing else changed."""
    before = registry_snapshot(ctx)
    err = rejected(func, at=at, **constants)  # file, marked line, quoted line, column at `at`
    assert err.filename == __file__
    assert isinstance(err.col_offset, int) and 0 <= err.col_offset < len(err.source_line), str(err)
    assert f"{__file__}:{err.lineno}" in str(err)
    assert registry_snapshot(ctx) == before
    runner = NodeRunner(compile_node(good_node))
    runner.start()
    assert runner.execute(x=41) == 42
    return err


class Resource:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


GLOBAL_COUNTER = 0


# -- constructs outside the language --------------------------------------------------------------


def uses_try(x: Signal[int]) -> Signal[int]:
    try:  # <- error
        return x
    except ValueError:
        return 0


def test_try_except_is_rejected(host_context):
    assert_rejected(host_context, uses_try, at="try")


def uses_with(x: Signal[int]) -> Signal[int]:
    with Resource():  # <- error
        return x


def test_with_block_is_rejected(host_context):
    assert_rejected(host_context, uses_with, at="with")


def uses_yield(x: Signal[int]) -> Signal[int]:
    yield x  # <- error


def test_yield_is_rejected(host_context):
    assert_rejected(host_context, uses_yield, at="yield")


def uses_lambda(x: Signal[int]) -> Signal[int]:
    f = lambda v: v + 1  # noqa: E731  # <- error
    return f(x)


def test_lambda_is_rejected(host_context):
    assert_rejected(host_context, uses_lambda, at="lambda")


lambda_node = lambda x: x  # noqa: E731  # <- error


def test_lambda_as_the_node_is_rejected(host_context):
    assert_rejected(host_context, lambda_node)


def uses_nested_def(x: Signal[int]) -> Signal[int]:
    def inner(v):  # <- error
        return v

    return inner(x)


def test_nested_def_is_rejected(host_context):
    assert_rejected(host_context, uses_nested_def, at="def")


def uses_nested_class(x: Signal[int]) -> Signal[int]:
    class Inner:  # <- error
        pass

    return x


def test_nested_class_is_rejected(host_context):
    assert_rejected(host_context, uses_nested_class, at="class")


def uses_star_args(
    x: Signal[int],
    *rest,  # <- error
) -> Signal[int]:
    return x


def test_star_args_parameter_is_rejected(host_context):
    assert_rejected(host_context, uses_star_args)


def uses_star_kwargs(
    x: Signal[int],
    **rest,  # <- error
) -> Signal[int]:
    return x


def test_star_kwargs_parameter_is_rejected(host_context):
    assert_rejected(host_context, uses_star_kwargs)


def uses_string(x: Signal[int]) -> Signal[int]:
    label = "abc"  # <- error
    return x


def test_string_constant_is_rejected(host_context):
    assert_rejected(host_context, uses_string, at='"abc"')


def uses_unknown_name(x: Signal[int]) -> Signal[int]:
    return x + no_such_name  # noqa: F821  # <- error


def test_unknown_name_is_rejected(host_context):
    assert_rejected(host_context, uses_unknown_name, at="no_such_name")


def uses_unknown_name_on_continuation_line(x: Signal[int]) -> Signal[int]:
    return (x +
            no_such_name)  # noqa: F821  # <- error


def test_unknown_name_on_a_continuation_line_is_reported_there(host_context):
    assert_rejected(host_context, uses_unknown_name_on_continuation_line, at="no_such_name")


def uses_global(x: Signal[int]) -> Signal[int]:
    global GLOBAL_COUNTER  # <- error
    return x


def test_global_statement_is_rejected(host_context):
    assert_rejected(host_context, uses_global, at="global")


def uses_import(x: Signal[int]) -> Signal[int]:
    import os  # noqa: F401  # <- error

    return x


def test_import_inside_the_node_is_rejected(host_context):
    assert_rejected(host_context, uses_import, at="import")


def uses_list_comprehension(x: Signal[int]) -> Signal[int]:
    values = [i for i in range(x)]  # noqa: F841  # <- error
    return x


def test_list_comprehension_is_rejected(host_context):
    assert_rejected(host_context, uses_list_comprehension, at="[")


def uses_dict_literal(x: Signal[int]) -> Signal[int]:
    table = {1: 2}  # noqa: F841  # <- error
    return x


def test_dict_literal_is_rejected(host_context):
    assert_rejected(host_context, uses_dict_literal, at="{")


def uses_slicing(x: Signal[int], c: int) -> Signal[int]:
    part = c[1:2]  # noqa: F841  # <- error
    return x


def test_slicing_is_rejected(host_context):
    assert_rejected(host_context, uses_slicing, at="1:2", c=3)


# -- misuse of the node's own names ---------------------------------------------------------------


def assigns_constant(x: Signal[int], c: int) -> Signal[int]:
    c = 5  # <- error
    return x + c


def test_assignment_to_a_constant_parameter_is_rejected(host_context):
    assert_rejected(host_context, assigns_constant, at="c", c=3)


def assigns_input(x: Signal[int]) -> Signal[int]:
    x = 5  # <- error
    return x


def test_assignment_to_an_input_is_rejected(host_context):
    assert_rejected(host_context, assigns_input, at="x")


def state_inside_if(x: Signal[int]) -> Signal[int]:
    if x > 0:
        s: State[int] = 0  # noqa: F841  # <- error
    return x


def test_state_declared_inside_an_if_is_rejected(host_context):
    assert_rejected(host_context, state_inside_if, at="s")


def unsupported_state(x: Signal[int]) -> Signal[int]:
    s: State[complex] = 0  # noqa: F841  # <- error
    return x


def test_unsupported_state_type_is_rejected(host_context):
    assert_rejected(host_context, unsupported_state)


def returns_without_output(x: Signal[int]):
    return x  # <- error


def test_return_value_from_a_node_without_outputs_is_rejected(host_context):
    assert_rejected(host_context, returns_without_output, at="return")


def ticked_on_constant(x: Signal[int], c: int) -> Signal[bool]:
    return ticked(c)  # <- error


def test_ticked_on_a_non_input_is_rejected(host_context):
    assert_rejected(host_context, ticked_on_constant, c=3)


def reserved_name(x: Signal[int]) -> Signal[int]:
    _ncc_tmp = x  # <- error
    return _ncc_tmp


def test_reserved_generated_name_is_rejected(host_context):
    assert_rejected(host_context, reserved_name, at="_ncc_tmp")


def huge_constant(
    x: Signal[int],
    k: int,  # <- error
) -> Signal[int]:
    return x + k


def test_constant_that_does_not_fit_in_64_bits_is_rejected(host_context):
    assert_rejected(host_context, huge_constant, at="k", k=2**64)


def missing_constant(
    x: Signal[int],
    k: int,  # <- error
) -> Signal[int]:
    return x + k


def test_missing_constant_is_reported_at_its_parameter(host_context):
    assert_rejected(host_context, missing_constant, at="k")


def string_input(
    x: Signal[int],
    label: Signal[str],  # <- error
) -> Signal[int]:
    return x


def test_input_of_unsupported_type_is_reported_at_its_parameter(host_context):
    assert_rejected(host_context, string_input, at="label")


def unsupported_output(
    x: Signal[int],
) -> Signal[complex]:  # <- error
    return x


def test_unsupported_output_type_is_rejected(host_context):
    assert_rejected(host_context, unsupported_output)


def unknown_output(x: Signal[int]) -> Outputs(a=Signal[int]):
    output(b=x)  # <- error


def test_unknown_named_output_is_rejected(host_context):
    assert_rejected(host_context, unknown_output, at="b=x")


def input_in_start(x: Signal[int]) -> Signal[int]:
    s: State[int] = 0
    with start():
        s = x  # <- error
    return s


def test_input_read_in_a_start_block_is_rejected(host_context):
    assert_rejected(host_context, input_in_start, at="x")


def value_returned_in_start(x: Signal[int]) -> Signal[int]:
    with start():
        return 1  # <- error
    return x


def test_value_returned_in_a_start_block_is_rejected(host_context):
    assert_rejected(host_context, value_returned_in_start, at="return")


def nested_start_block(x: Signal[int]) -> Signal[int]:
    if x > 0:
        with start():  # <- error
            pass
    return x


def test_start_block_nested_in_an_if_is_rejected(host_context):
    assert_rejected(host_context, nested_start_block, at="with")


# -- errors Numba finds, mapped back to the user's line ------------------------------------------


def calls_an_int(x: Signal[int]) -> Signal[int]:
    y = x + 1
    return y()  # <- error


def test_calling_an_int_is_reported_at_the_users_line(host_context):
    err = assert_rejected(host_context, calls_an_int)
    assert err.stage != "analysis"


def misuses_math(x: Signal[float]) -> Signal[float]:
    y = x * 2.0
    return math.sqrt(y, y)  # <- error


def test_math_misuse_is_reported_at_the_users_line(host_context):
    assert_rejected(host_context, misuses_math)


def misuses_njit_helper(x: Signal[float]) -> Signal[float]:
    y = x * 2.0
    return pair_product(y)  # <- error


def test_wrong_call_of_an_njit_helper_is_reported_at_the_users_line(host_context):
    assert_rejected(host_context, misuses_njit_helper)


def calls_helper_needing_numba_runtime(x: Signal[float]) -> Signal[float]:
    y = x * 2.0
    return window_sum(y)  # <- error


def test_njit_helper_needing_numbas_runtime_is_reported_at_the_users_line(host_context):
    assert_rejected(host_context, calls_helper_needing_numba_runtime)


class Indented:
    def method_like(x: Signal[int]) -> Signal[int]:
        return x + also_unknown  # noqa: F821  # <- error


def test_column_of_an_indented_function_is_in_file_coordinates(host_context):
    assert_rejected(host_context, Indented.method_like, at="also_unknown")


# -- the error itself ----------------------------------------------------------------------------


def test_compilation_error_is_importable_from_the_package_root():
    import numba_cfunc_compiler

    assert numba_cfunc_compiler.CompilationError is CompilationError
    assert issubclass(CompilationError, Exception)


def test_error_message_quotes_the_line(host_context):
    err = assert_rejected(host_context, uses_unknown_name)
    assert "return x + no_such_name" in str(err)
