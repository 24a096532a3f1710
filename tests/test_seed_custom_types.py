"""The seed README's "Registering Custom Types" example, run verbatim.

`SEED_EXAMPLE` is the README's code block exactly as written (it is executed as is). The README
leaves two names to the reader: ``dataclass`` and ``MyEnumBase``; the scaffolding supplies them,
then compiles and runs a node that uses the registered type as a constant parameter, a state
variable and an output.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import pytest

from numba_cfunc_compiler import CompilationError, State
from numba_cfunc_compiler.compilation_context import CompilationContext
from numba_cfunc_compiler.defaults import register_all

from conftest import DirectNode, compile_direct

SEED_EXAMPLE = '''\
from numba_cfunc_compiler.type_factory import TypeFactory
from numba_cfunc_compiler.models import VariableType, ParameterInfo, StateVariableInfo

@dataclass(frozen=True)
class MyEnumType(VariableType):
    def get_numba_type_name(self) -> str:
        return 'int64'

    @classmethod
    def is_type_supported(cls, var_type):
        return isinstance(var_type, type) and issubclass(var_type, MyEnumBase)

    @classmethod
    def from_type(cls, var_type, value):
        if cls.is_type_supported(var_type):
            return cls(var_type, value)
        return None

    # Optional: parse constant inputs like  def f(mode: MyEnum): ...
    @classmethod
    def try_parse_input(cls, param, ann):
        if cls.is_type_supported(ann):
            return ParameterInfo(expected_type=ann)
        return None

    # Optional: parse state declarations like  x: State[MyEnum] = MyEnum.A
    @classmethod
    def try_parse_state(cls, node, var_name, globalns):
        ...

    # Optional: lower assignments like  x = MyEnum.VALUE → x = <int>
    @classmethod
    def try_lower_assignment(cls, node, rhs, call_globals):
        ...

TypeFactory.register(MyEnumType, priority=0)   # lower priority = tried first
'''


class MyEnumBase(enum.Enum):
    """The family of enums the example's type supports (the README leaves it undefined)."""


def run_seed_example() -> dict[str, Any]:
    """Execute the README's block in the active context; returns its namespace."""
    namespace: dict[str, Any] = {"__name__": "seed_readme_example", "dataclass": dataclass, "MyEnumBase": MyEnumBase}
    exec(compile(SEED_EXAMPLE, "<seed README: Registering Custom Types>", "exec"), namespace)  # noqa: S102
    return namespace


class MyEnum(MyEnumBase):
    A = 1
    B = 2
    C = 30


class Label(MyEnumBase):
    """Supported by the example's type (a MyEnumBase) but not representable as int64."""

    X = "x"


def pick(mode: MyEnum) -> MyEnum:
    last: State[MyEnum] = MyEnum.A
    previous = last
    last = mode
    if previous == MyEnum.A:
        return MyEnum.C
    return previous


def labelled(label: Label) -> int:
    return 1


@pytest.fixture
def seed_context():
    with CompilationContext() as ctx:
        register_all()
        namespace = run_seed_example()
        assert list(ctx.types)[0] is namespace["MyEnumType"]  # priority 0: tried before built-ins
        yield ctx


def test_seed_custom_type_example_compiles_and_runs(seed_context):
    result = compile_direct(pick, MyEnum.B)
    assert result.state_values == [1]
    node = DirectNode(result)
    node.start()
    assert node.state_value("last") == 1
    assert node.execute() == [30]  # the previous value was A
    assert node.state_value("last") == 2
    assert node.execute() == [2]  # then the constant B


def test_seed_custom_type_constants_lower_as_their_integer_values(seed_context):
    one, other = compile_direct(pick, MyEnum.B), compile_direct(pick, MyEnum.C)
    assert one.semantic_key != other.semantic_key
    assert "MyEnum" not in one.transformed_source
    node = DirectNode(other)
    node.start()
    node.execute()
    assert node.execute() == [30]


def test_seed_custom_type_value_that_is_not_an_int64_is_a_compile_error(seed_context):
    with pytest.raises(CompilationError, match="int64"):
        compile_direct(labelled, Label.X)
