"""Registration hardening (SPEC section 4): cfunc parameter types in every spelling, hooks checked at
registration, and `InternalCompilerError` for failures that are not the user's fault."""

from __future__ import annotations

import ast
import ctypes
import pickle
from dataclasses import dataclass

import pytest
from numba.core import types

from numba_cfunc_compiler import CompilationError, InternalCompilerError
from numba_cfunc_compiler.compilation_context import CompilationContext
from numba_cfunc_compiler.function_analyzer import FunctionAnalyzer, InputTypeHandler, OutputTypeHandler
from numba_cfunc_compiler.models import VariableType
from numba_cfunc_compiler.source_registry import CfuncParam, SourceCategory, SourceInitFilter, SourceRegistry
from numba_cfunc_compiler.type_factory import TypeFactory
from numba_cfunc_compiler.variable_factory import VariableSource

import conftest
from conftest import DirectNode, compile_direct, registry_snapshot

THIS_FILE = __file__.removesuffix("c")  # .py even when run from a .pyc

# =============================================================================================
# CfuncParam: Numba expressions, C spellings and numba.types.Type objects
# =============================================================================================

#: spelling -> (canonical text, Numba type). Spellings accepted before keep their text (and so
#: their semantic keys); new ones become the C-style text of their type.
SPELLINGS = {
    "voidptr": ("voidptr", types.voidptr),
    "void*": ("void*", types.voidptr),
    "void**": ("void**", types.CPointer(types.voidptr)),
    "int8*": ("int8*", types.CPointer(types.int8)),
    "int64": ("int64", types.int64),
    "intp": ("intp", types.intp),
    "double": ("double", types.float64),
    "char*": ("char*", types.CPointer(types.int8)),
    "CPointer(voidptr)": ("void**", types.CPointer(types.voidptr)),
    "CPointer(int8)": ("int8*", types.CPointer(types.int8)),
    "CPointer(CPointer(voidptr))": ("void***", types.CPointer(types.CPointer(types.voidptr))),
    "CPointer( int64_t )": ("int64*", types.CPointer(types.int64)),
    "int64_t": ("int64", types.int64),
    "const char*": ("int8*", types.CPointer(types.int8)),
    "unsigned char": ("uint8", types.uint8),
    "float": ("float32", types.float32),
}
TYPE_OBJECTS = {
    "types.voidptr": (types.voidptr, "voidptr"),
    "types.CPointer(types.voidptr)": (types.CPointer(types.voidptr), "void**"),
    "types.CPointer(types.int8)": (types.CPointer(types.int8), "int8*"),
    "types.int64": (types.int64, "int64"),
    "types.intp": (types.intp, "int64"),
    "types.float64": (types.float64, "float64"),
}


@pytest.mark.parametrize("spelling", list(SPELLINGS))
def test_cfunc_param_spelling_is_stored_as_canonical_text(spelling):
    text, numba_type = SPELLINGS[spelling]
    param = CfuncParam("p", spelling)
    assert param.type == text
    assert param.numba_type == numba_type
    assert CfuncParam("p", text).numba_type == numba_type  # the stored text parses back


@pytest.mark.parametrize("label", list(TYPE_OBJECTS))
def test_cfunc_param_accepts_numba_type_objects(label):
    numba_type, text = TYPE_OBJECTS[label]
    param = CfuncParam("p", numba_type)
    assert param.type == text
    assert param.numba_type == numba_type


def test_numba_and_c_spellings_of_one_type_are_equal_params():
    assert CfuncParam("p", "CPointer(voidptr)") == CfuncParam("p", "void**") == CfuncParam("p", types.CPointer(types.voidptr))
    assert CfuncParam("p", "CPointer(int8)") == CfuncParam("p", "int8*")


@pytest.mark.parametrize("spelling", ["nosuch", "CPointer(nosuch)", "CPointer(int8", "int64[:]", "os.system('x')", "", "Type"])
def test_unknown_cfunc_param_type_is_rejected_naming_the_parameter(spelling):
    with pytest.raises(ValueError, match=r"cfunc parameter 'inputs'.*unknown type"):
        CfuncParam("inputs", spelling)


@pytest.mark.parametrize("spelling", ["void", "unicode_type", "pyobject", types.unicode_type])
def test_type_that_cannot_be_a_c_parameter_is_rejected(spelling):
    with pytest.raises(ValueError, match="cannot be a C parameter"):
        CfuncParam("inputs", spelling)


class ReadParam(VariableSource):
    """A value node code reads (as ``name``) from the cfunc parameter ``param`` of one kind."""

    kind = "runtime parameter"

    def __init__(self, var_type, name, param, kind, factory) -> None:
        super().__init__(var_type, name)
        self.param, self.how, self.factory = param, kind, factory

    def get(self) -> ast.expr:
        raw: ast.expr = ast.Name(id=self.param, ctx=ast.Load())
        if self.how == "scalar":
            return raw
        index = lambda e: ast.Subscript(value=e, slice=ast.Constant(0), ctx=ast.Load())  # noqa: E731
        if self.how == "array":  # int8*: element 0
            return index(raw)
        if self.how == "table":  # void**: *(double*)p[0]
            raw = index(raw)
        elif self.how == "table2":  # void***: *(double*)p[0][0]
            raw = index(index(raw))
        return index(self.factory.cast_pointer(raw, self.type.get_numba_type_name()))


class ParamCategory(SourceCategory):
    """One extra cfunc parameter ``p`` of the given type, read by node code as ``P``."""

    id = "test.param"
    order = 10
    init_filter = SourceInitFilter.ON_EXECUTE

    def __init__(self, spec, kind: str, python_type: type) -> None:
        self.spec, self.kind, self.python_type = spec, kind, python_type

    @property
    def cfunc_params(self):
        return [CfuncParam("p", self.spec)]

    def create_variables(self, info, factory):
        var_type = TypeFactory.get_type(self.python_type)
        factory.add_variable(ReadParam(var_type, "P", "p", self.kind, factory), category=self.id)


def reads_float_param(k: float) -> float:
    return P * k  # noqa: F821 - provided by ParamCategory


def reads_int_param(k: int) -> int:
    return P * k  # noqa: F821 - provided by ParamCategory


#: (spelling or Type, how node code reads it, value type): every spelling compiled and run.
RUN_CASES = [
    ("voidptr", "pointer", float),
    ("void*", "pointer", float),
    (types.voidptr, "pointer", float),
    ("void**", "table", float),
    ("CPointer(voidptr)", "table", float),
    (types.CPointer(types.voidptr), "table", float),
    ("CPointer(CPointer(voidptr))", "table2", float),
    ("int8*", "array", int),
    ("CPointer(int8)", "array", int),
    ("char*", "array", int),
    (types.CPointer(types.int8), "array", int),
    ("int64", "scalar", int),
    ("intp", "scalar", int),
    ("int64_t", "scalar", int),
    (types.int64, "scalar", int),
    ("double", "scalar", float),
    (types.float64, "scalar", float),
]


def _argument(kind: str, value, keep: list):
    """The C argument for ``kind`` that makes ``P == value`` (buffers are kept alive in ``keep``)."""
    if kind == "scalar":
        return value
    if kind == "array":
        cell = (ctypes.c_int8 * 1)(value)
        keep.append(cell)
        return ctypes.addressof(cell)
    cell = ctypes.c_double(value)
    keep.append(cell)
    address = ctypes.addressof(cell)
    for _ in range({"pointer": 0, "table": 1, "table2": 2}[kind]):
        table = (ctypes.c_void_p * 1)(address)
        keep.append(table)
        address = ctypes.addressof(table)
    return address


@pytest.mark.parametrize("spec,kind,python_type", RUN_CASES, ids=[str(c[0]) for c in RUN_CASES])
def test_every_spelling_compiles_and_runs_through_a_category(fresh_context, monkeypatch, spec, kind, python_type):
    SourceRegistry.register(ParamCategory(spec, kind, python_type))
    func = reads_float_param if python_type is float else reads_int_param
    result = compile_direct(func, python_type(3))
    param = result.cfunc_params[-1]
    assert (param.name, param.type) == ("p", CfuncParam("p", spec).type)
    assert f"p: {param.type}" in result.signature
    assert result.artifact.params[-1].type == param.type
    c_arg = ctypes.c_double if param.numba_type == types.float64 else ctypes.c_int64 if kind == "scalar" else ctypes.c_void_p
    monkeypatch.setitem(conftest.PARAM_CTYPES, param.type, c_arg)  # DirectNode's ctypes of the new spellings
    node = DirectNode(result)
    keep: list = []
    node.start(_argument(kind, python_type(0), keep))
    assert node.execute(_argument(kind, python_type(7), keep)) == [python_type(21)]


def test_numba_spelling_compiles_to_the_same_node_as_the_c_spelling(fresh_context):
    keys = []
    for spec in ("void**", "CPointer(voidptr)", types.CPointer(types.voidptr)):
        with fresh_context.derive():
            SourceRegistry.register(ParamCategory(spec, "table", float))
            keys.append(compile_direct(reads_float_param, 3.0).semantic_key)
    assert len(set(keys)) == 1


class BadParamsCategory(SourceCategory):
    id = "test.bad_params"
    order = 11

    def __init__(self, spec) -> None:
        self.spec = spec

    @property
    def cfunc_params(self):
        return [CfuncParam("ok", "int64"), CfuncParam("inputs", self.spec)]


def test_unknown_type_is_rejected_at_registration_naming_category_and_parameter(fresh_context):
    before = registry_snapshot(fresh_context)
    with pytest.raises(ValueError) as info:
        SourceRegistry.register(BadParamsCategory("CPointer(nosuch)"))
    message = str(info.value)
    assert "'test.bad_params'" in message and "BadParamsCategory" in message
    assert "'inputs'" in message and "nosuch" in message
    assert THIS_FILE in message
    assert registry_snapshot(fresh_context) == before


class ForgedParamsCategory(SourceCategory):
    id = "test.forged"
    order = 12

    @property
    def cfunc_params(self):
        param = CfuncParam("inputs", "void**")
        object.__setattr__(param, "type", "void***(")  # past the constructor's check
        return [param]


def test_forged_param_type_is_rejected_at_registration(fresh_context):
    before = registry_snapshot(fresh_context)
    with pytest.raises(ValueError, match=r"'test.forged'.*'inputs'"):
        SourceRegistry.register(ForgedParamsCategory())
    assert registry_snapshot(fresh_context) == before


class ShortCreateVariables(SourceCategory):
    id = "test.short"
    order = 14

    def create_variables(self, info):  # missing ``factory``
        pass


def test_category_with_wrong_method_signature_is_rejected_at_registration(fresh_context):
    before = registry_snapshot(fresh_context)
    with pytest.raises(TypeError, match=r"ShortCreateVariables\.create_variables.*\(info, factory\)") as info:
        SourceRegistry.register(ShortCreateVariables())
    assert THIS_FILE in str(info.value)
    assert registry_snapshot(fresh_context) == before


# =============================================================================================
# Input/output handlers: hook signatures checked at registration
# =============================================================================================


class NoAnnArgInput(InputTypeHandler):
    def try_parse(self, param):  # missing ``ann``
        return None


class BadValidateInput(InputTypeHandler):
    def try_parse(self, param, ann):
        return None

    def validate_value(self, value):  # missing ``param_name`` and ``expected_type``
        return value


class NoTryParseInput(InputTypeHandler):
    pass


class ThreeArgOutput(OutputTypeHandler):
    def try_parse(self, return_annotation, ast_tree, extra):  # one too many
        return None


class GoodInput(InputTypeHandler):
    def try_parse(self, param, ann, *more):
        return None


@pytest.mark.parametrize(
    "register,handler,pattern",
    [
        (FunctionAnalyzer.register_input_handler, NoAnnArgInput(), r"NoAnnArgInput\.try_parse.*must accept \(param, ann\)"),
        (FunctionAnalyzer.register_input_handler, BadValidateInput(), r"BadValidateInput\.validate_value.*\(param_name, value, expected_type\)"),
        (FunctionAnalyzer.register_input_handler, NoTryParseInput(), r"NoTryParseInput.*must implement try_parse"),
        (FunctionAnalyzer.register_input_handler, NoAnnArgInput, r"register an instance"),
        (FunctionAnalyzer.register_output_handler, ThreeArgOutput(), r"ThreeArgOutput\.try_parse.*\(return_annotation, ast_tree\)"),
    ],
    ids=["input-try_parse", "input-validate_value", "input-missing", "input-class", "output-try_parse"],
)
def test_wrong_handler_signature_is_rejected_at_registration(fresh_context, register, handler, pattern):
    before = registry_snapshot(fresh_context)
    with pytest.raises(TypeError, match=pattern) as info:
        register(handler)
    assert THIS_FILE in str(info.value)  # pluggy style: where the offending code is
    assert registry_snapshot(fresh_context) == before


def test_handler_with_compatible_signature_is_accepted(fresh_context):
    handler = FunctionAnalyzer.register_input_handler(GoodInput())
    assert handler in fresh_context.input_handlers


# =============================================================================================
# VariableType: hooks and the Numba type it names, checked at registration
# =============================================================================================


@dataclass(frozen=True)
class NoSuchNumbaType(VariableType):
    def get_numba_type_name(self) -> str:
        return "int65"


@dataclass(frozen=True)
class ExpressionNumbaType(VariableType):
    def get_numba_type_name(self) -> str:
        return "CPointer(int8)"  # fine for a cfunc parameter, but a cell type must be a plain name


@dataclass(frozen=True)
class ShortTryParseState(VariableType):
    def get_numba_type_name(self) -> str:
        return "int64"

    @classmethod
    def try_parse_state(cls, node, var_name):  # missing ``globalns``
        return None


@dataclass(frozen=True)
class NotAClassmethod(VariableType):
    def get_numba_type_name(self) -> str:
        return "int64"

    def try_parse_input(self, param, ann):  # forgot @classmethod
        return None


@dataclass(frozen=True)
class ShortFromType(VariableType):
    def get_numba_type_name(self) -> str:
        return "int64"

    @classmethod
    def from_type(cls):
        return None


@dataclass(frozen=True)
class ShortConstantAst(VariableType):
    def get_numba_type_name(self) -> str:
        return "int64"

    def constant_ast(self):  # missing ``value``
        return ast.Constant(0)


@pytest.mark.parametrize(
    "type_cls,error,pattern",
    [
        (NoSuchNumbaType, ValueError, r"NoSuchNumbaType.*'int65'.*not a Numba type"),
        (ExpressionNumbaType, ValueError, r"ExpressionNumbaType.*'CPointer\(int8\)'"),
        (ShortTryParseState, TypeError, r"ShortTryParseState\.try_parse_state.*\(node, var_name, globalns\)"),
        (NotAClassmethod, TypeError, r"NotAClassmethod.*try_parse_input.*@classmethod"),
        (ShortFromType, TypeError, r"ShortFromType\.from_type.*\(var_type, value\)"),
        (ShortConstantAst, TypeError, r"ShortConstantAst\.constant_ast.*\(self, value\)"),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else None,
)
def test_bad_variable_type_is_rejected_at_registration(fresh_context, type_cls, error, pattern):
    before = registry_snapshot(fresh_context)
    with pytest.raises(error, match=pattern) as info:
        TypeFactory.register(type_cls)
    assert THIS_FILE in str(info.value)
    assert registry_snapshot(fresh_context) == before


@dataclass(frozen=True)
class NameFromValue(VariableType):
    """Its Numba type depends on the instance: not checkable at registration (checked on use)."""

    def get_numba_type_name(self) -> str:
        return {1: "int64", 2: "float64"}[self.value]


def test_variable_type_whose_name_needs_an_instance_is_accepted(fresh_context):
    TypeFactory.register(NameFromValue)
    assert NameFromValue in list(fresh_context.types)


# =============================================================================================
# InternalCompilerError: an extension that raises
# =============================================================================================


class Exploding:
    """Annotation handled by `ExplodingInput`."""


class ExplodingInput(InputTypeHandler):
    def try_parse(self, param, ann):
        if ann is Exploding:
            raise RuntimeError("handler bug")
        return None


def takes_exploding(x: Exploding, k: int) -> int:
    return k


def assert_internal_error(info, stage: str, culprit: str, cause: type) -> InternalCompilerError:
    err = info.value
    assert isinstance(err, InternalCompilerError)
    assert err.stage == stage
    assert culprit in err.extension and __name__ in err.extension
    assert isinstance(err.__cause__, cause)
    text = str(err)
    assert f"during {stage}" in text and "please report" in text and culprit in text
    assert err.filename == THIS_FILE
    return err


def test_handler_raising_is_an_internal_error_naming_stage_and_handler(fresh_context):
    FunctionAnalyzer.register_input_handler(ExplodingInput())
    before = registry_snapshot(fresh_context)
    with pytest.raises(InternalCompilerError) as info:
        compile_direct(takes_exploding, Exploding(), 1)
    err = assert_internal_error(info, "analysis", "ExplodingInput", RuntimeError)
    assert "handler bug" in str(err)
    copy = pickle.loads(pickle.dumps(err))  # crosses process boundaries intact (compile_many)
    assert (str(copy), copy.stage, copy.lineno, copy.extension) == (str(err), err.stage, err.lineno, err.extension)
    assert CompilationContext.current() is fresh_context
    assert registry_snapshot(fresh_context) == before


class ExplodingCategory(SourceCategory):
    id = "test.exploding"
    order = 13

    def __init__(self, where: str) -> None:
        self.where = where

    def create_variables(self, info, factory):
        if self.where == "variables":
            raise KeyError("category bug")

    def get_result_metadata(self, info):
        if self.where == "result":
            raise AttributeError("metadata bug")
        return {}


def plain(k: int) -> int:
    return k + 1


@pytest.mark.parametrize("where,stage,cause", [("variables", "variable creation", KeyError), ("result", "result", AttributeError)])
def test_category_raising_is_an_internal_error_naming_its_stage(fresh_context, where, stage, cause):
    SourceRegistry.register(ExplodingCategory(where))
    before = registry_snapshot(fresh_context)
    with pytest.raises(InternalCompilerError) as info:
        compile_direct(plain, 1)
    assert_internal_error(info, stage, "ExplodingCategory", cause)
    assert CompilationContext.current() is fresh_context
    assert registry_snapshot(fresh_context) == before


class Fragile:
    """Annotation of a constant whose type's `constant_ast` fails."""


@dataclass(frozen=True)
class FragileType(VariableType):
    def get_numba_type_name(self) -> str:
        return "int64"

    @classmethod
    def is_type_supported(cls, var_type) -> bool:
        return var_type is Fragile

    def coerce_constant(self, value):
        return 1

    def constant_ast(self, value):
        raise ZeroDivisionError("type hook bug")


def uses_fragile(f: Fragile) -> int:
    y = 2
    return f + y  # the constant is baked in here


def test_type_hook_raising_is_an_internal_error_at_the_users_line(fresh_context):
    TypeFactory.register(FragileType)
    with pytest.raises(InternalCompilerError) as info:
        compile_direct(uses_fragile, Fragile())
    err = assert_internal_error(info, "AST conversion", "FragileType", ZeroDivisionError)
    assert err.lineno == uses_fragile.__code__.co_firstlineno + 2


class Interrupting(InputTypeHandler):
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def try_parse(self, param, ann):
        if ann is Exploding:
            raise self.exc
        return None


def test_keyboard_interrupt_and_user_errors_are_not_wrapped(fresh_context):
    FunctionAnalyzer.register_input_handler(Interrupting(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        compile_direct(takes_exploding, Exploding(), 1)
    with fresh_context.derive():
        FunctionAnalyzer.register_input_handler(Interrupting(CompilationError("not for you")), priority=-1)
        with pytest.raises(CompilationError, match="not for you"):
            compile_direct(takes_exploding, Exploding(), 1)


def test_wrong_function_argument_stays_a_type_error(fresh_context):
    with pytest.raises(TypeError):
        compile_direct(42)


# -- arity checks read code objects: they must agree with inspect.signature ------------------


def _shapes():
    def f0(): ...
    def f1(a): ...
    def f2(a, b=1): ...
    def f3(a, *args): ...
    def f4(a, *, k): ...
    def f5(a, *, k=2): ...
    def f6(a, /, b): ...
    def f7(*args, **kw): ...
    def f8(a, b, c=1, *args, d, e=3, **kw): ...
    def f9(a, b, c=1, *args, d=0, e=3, **kw): ...

    class Hooks:
        def method(self, a): ...
        def method2(self, a, b=2, *rest): ...

    return [f0, f1, f2, f3, f4, f5, f6, f7, f8, f9, Hooks().method, Hooks().method2]


@pytest.mark.parametrize("nargs", range(5))
@pytest.mark.parametrize("fn", _shapes(), ids=lambda f: f.__qualname__)
def test_arity_check_agrees_with_inspect_signature(fn, nargs):
    import inspect

    from numba_cfunc_compiler.utils.introspection import check_arity

    try:
        inspect.signature(fn).bind(*range(nargs))
        binds = True
    except TypeError:
        binds = False
    if binds:
        check_arity(fn, nargs, "hook")
    else:
        with pytest.raises(TypeError, match="must accept"):
            check_arity(fn, nargs, "hook")
