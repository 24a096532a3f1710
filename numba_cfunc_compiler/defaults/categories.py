"""The built-in source categories, giving every node the signature prefix
``(void** outputs, int8_t* output_ticked, void** state, int8_t lifecycle_phase, ...)``."""

from __future__ import annotations

import ast
from typing import Any

from numba_rt import abi

from ..errors import CompilationError
from ..function_analyzer import NumbaFunctionInfo
from ..models import StateSlot, ValueSlot
from ..source_registry import CfuncParam, SourceCategory, SourceInitFilter
from ..type_factory import TypeFactory
from ..variable_factory import ConstantSource, OutputSource, VariableFactory, VoidPtrSource

__all__ = ["OutputsCategory", "StateCategory", "LifecycleCategory", "ConstantsCategory", "BUILTIN_CATEGORIES"]


def _params(*names: str) -> list[CfuncParam]:
    """The built-in prefix parameters, spelled as the native ABI (`numba_rt.abi.NODE_PARAMS`) says."""
    types = {p.name: p.type for p in abi.NODE_PARAMS}
    return [CfuncParam(name, types[name]) for name in names]


class OutputsCategory(SourceCategory):
    """Output cells: ``outputs[i]`` plus ``output_ticked[i]``; written in EXECUTE."""

    id = "outputs"
    order = -40
    init_filter = SourceInitFilter.ON_EXECUTE

    @property
    def cfunc_params(self) -> list[CfuncParam]:
        return _params("outputs", "output_ticked")

    def create_variables(self, info: NumbaFunctionInfo, factory: VariableFactory) -> None:
        analysis = info.output_analysis
        for index, (name, python_type) in enumerate(zip(analysis.names(), analysis.output_types)):
            var_type = TypeFactory.get_type(python_type)
            if var_type is None:
                raise CompilationError(
                    f"output {name!r} has unsupported type {python_type!r}",
                    info.location(info.funcdef.returns),
                    stage="analysis",
                    hint="use int, float, bool or a registered type",
                )
            if var_type.is_container:  # a struct output is host memory of its size (a copy is written)
                raise CompilationError(
                    f"output {name!r} cannot be a {var_type.describe()}: outputs are values or structs",
                    info.location(info.funcdef.returns),
                    stage="analysis",
                    hint="keep containers in State[...] and output values read from them",
                )
            info.output_variable_types.append(var_type)
            factory.add_variable(OutputSource(index, var_type, name), category=self.id)

    def get_result_metadata(self, info: NumbaFunctionInfo) -> dict[str, Any]:
        return {
            "output_cell_types": [t.get_numba_type_name() for t in info.output_variable_types],
            "output_variable_types": list(info.output_variable_types),
        }

    def output_slots(self, info: NumbaFunctionInfo) -> list[ValueSlot]:
        names = info.output_analysis.names()
        return [t.value_slot(name) for name, t in zip(names, info.output_variable_types)]

    def artifact_entries(self, info: NumbaFunctionInfo) -> dict[str, Any]:
        named = info.output_analysis.named_outputs
        return {"named_outputs": None if named is None else list(named)}


class StateCategory(SourceCategory):
    """``State[...]`` variables: ``state[i]`` cells; START initialises them, STOP releases them."""

    id = "state"
    order = -30
    init_filter = SourceInitFilter.ALWAYS

    @property
    def cfunc_params(self) -> list[CfuncParam]:
        return _params("state")

    def create_variables(self, info: NumbaFunctionInfo, factory: VariableFactory) -> None:
        for index, state in enumerate(info.state_variables):
            factory.add_variable(VoidPtrSource(index, state.variable_type, state.name, "state"), category=self.id)

    def start_statements(self, info: NumbaFunctionInfo, factory: VariableFactory) -> list[ast.stmt]:
        stmts: list[ast.stmt] = []
        for state in info.state_variables:
            stmts += state.variable_type.start_statements(factory.get(state.name), state.initial_value)
        return stmts

    def stop_statements(self, info: NumbaFunctionInfo, factory: VariableFactory) -> list[ast.stmt]:
        stmts: list[ast.stmt] = []
        for state in info.state_variables:
            stmts += state.variable_type.stop_statements(factory.get(state.name))
        return stmts

    def get_result_metadata(self, info: NumbaFunctionInfo) -> dict[str, Any]:
        states = info.state_variables
        return {
            "state_types": [s.variable_type.get_numba_type_name() for s in states],
            "state_variable_types": [s.variable_type for s in states],
        }

    def state_slots(self, info: NumbaFunctionInfo) -> list[StateSlot]:
        return [s.variable_type.state_slot(s.name, s.initial_value) for s in info.state_variables]


class LifecycleCategory(SourceCategory):
    """The ``lifecycle_phase`` parameter (NCC_EXECUTE=0, NCC_START=1, NCC_STOP=2)."""

    id = "lifecycle"
    order = -20

    @property
    def cfunc_params(self) -> list[CfuncParam]:
        return _params("lifecycle_phase")


class ConstantsCategory(SourceCategory):
    """Constant parameters, baked into the generated code."""

    id = "constants"
    order = -10

    def create_variables(self, info: NumbaFunctionInfo, factory: VariableFactory) -> None:
        analysis = info.input_analysis
        for name, value in analysis.constants.items():
            var_type = TypeFactory.get_type(analysis.parameters[name].expected_type, value)
            factory.add_variable(ConstantSource(var_type, name, value), category=self.id)


BUILTIN_CATEGORIES = (OutputsCategory, StateCategory, LifecycleCategory, ConstantsCategory)
