"""Source categories: where variables come from and which parameters the cfunc takes.

Categories are ordered by ``order`` (unique; built-ins use negative orders), which is also the order
of their parameters in the generated ``@cfunc`` signature.
"""

from __future__ import annotations

import ast
import enum
import keyword
from dataclasses import dataclass
from typing import Any

from numba.core import types

from .compilation_context import CompilationContext
from .utils.introspection import LazyOrigin, check_arity
from .utils.type_names import canonical_type_name, is_c_abi_type, parse_numba_type

__all__ = ["CfuncParam", "SourceCategory", "SourceInitFilter", "SourceRegistry", "parse_numba_type"]


class SourceInitFilter(enum.Flag):
    """In which lifecycle phases a category's variables are materialised (loaded) and usable."""

    ON_START = enum.auto()
    ON_EXECUTE = enum.auto()
    ON_STOP = enum.auto()
    ALWAYS = ON_START | ON_EXECUTE | ON_STOP


@dataclass(frozen=True)
class CfuncParam:
    """One parameter of the generated cfunc: a name usable in generated code and its type.

    ``type`` may be a Numba type expression (``"voidptr"``, ``"CPointer(voidptr)"``, ``"intp"``), a
    C spelling (``"void**"``, ``"int8*"``, ``"int64_t"``, ``"double"``) or a ``numba.types.Type``;
    it is stored as one canonical text (`canonical_type_name`: spellings accepted before keep
    their text, so their semantic keys do not change; ``CPointer(voidptr)`` becomes ``void**``).
    """

    name: str
    type: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier() or keyword.iskeyword(self.name):
            raise ValueError(f"cfunc parameter name {self.name!r} is not an identifier")
        object.__setattr__(self, "type", _checked_type_text(self.name, self.type))

    @property
    def numba_type(self) -> types.Type:
        return parse_numba_type(self.type)


def _checked_type_text(name: str, spec: Any) -> str:
    """The canonical text of the type of cfunc parameter ``name``; ValueError naming the parameter
    if ``spec`` is not a type a C function can take."""
    try:
        ty = parse_numba_type(spec)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"cfunc parameter {name!r}: {exc}") from None
    if not is_c_abi_type(ty):
        raise ValueError(
            f"cfunc parameter {name!r}: type {spec!r} ({ty}) cannot be a C parameter "
            "(use an integer, float or bool type, voidptr, or a pointer such as void** or int8*)"
        )
    return canonical_type_name(spec)


class SourceCategory:
    """Base class of a source category. Subclasses set ``id``, ``order`` and ``init_filter``, and
    implement `create_variables`; the other methods are optional."""

    id: str = ""
    order: int = 0
    init_filter: SourceInitFilter = SourceInitFilter.ALWAYS

    @property
    def cfunc_params(self) -> list[CfuncParam]:
        return []

    def create_variables(self, info: Any, factory: Any) -> None:
        """Add this category's variables with ``factory.add_variable(source, category=self.id)``."""

    def start_statements(self, info: Any, factory: Any) -> list[ast.stmt]:
        """Statements run in START, before the user's start body."""
        return []

    def stop_statements(self, info: Any, factory: Any) -> list[ast.stmt]:
        """Statements run in STOP, after the user's stop body."""
        return []

    def get_result_metadata(self, info: Any) -> dict[str, Any]:
        """Entries this category adds to ``CompilationResult.metadata`` (live Python objects are
        fine here; they are recomputed on a cache hit, never stored)."""
        return {}

    # -- what the node artifact says (plain data, stored in the cache and AOT manifests) --------
    def input_slots(self, info: Any) -> list[Any]:
        """The `ValueSlot`s of the inputs this category feeds, in index order."""
        return []

    def output_slots(self, info: Any) -> list[Any]:
        """The `ValueSlot`s of the outputs this category writes, in index order."""
        return []

    def state_slots(self, info: Any) -> list[Any]:
        """The `StateSlot`s of ``state[i]``, in index order (only the category owning ``state``)."""
        return []

    def artifact_entries(self, info: Any) -> dict[str, Any]:
        """Extra plain-data entries for the node artifact (JSON-serialisable), under this
        category's keys."""
        return {}


#: The methods of a category the pipeline calls, with their arguments (checked at registration).
CATEGORY_HOOKS = {
    "create_variables": "(info, factory)",
    "start_statements": "(info, factory)",
    "stop_statements": "(info, factory)",
    "get_result_metadata": "(info)",
    "input_slots": "(info)",
    "output_slots": "(info)",
    "state_slots": "(info)",
    "artifact_entries": "(info)",
}


class SourceRegistry:
    """Registry facade over ``CompilationContext.current().source_categories``."""

    @staticmethod
    def register(category: SourceCategory) -> SourceCategory:
        if not isinstance(category, SourceCategory):
            raise TypeError(f"expected a SourceCategory instance, got {category!r}")
        if not isinstance(category.id, str) or not category.id:
            raise ValueError(f"{type(category).__name__} needs a non-empty string `id`")
        if not isinstance(category.order, int) or isinstance(category.order, bool):
            raise TypeError(f"category {category.id!r}: `order` must be an int")
        if not isinstance(category.init_filter, SourceInitFilter):
            raise TypeError(f"category {category.id!r}: `init_filter` must be a SourceInitFilter")
        ctx = CompilationContext.current()
        categories = ctx.source_categories
        if category.id in categories:
            raise ValueError(f"source category {category.id!r} is already registered")
        for other in categories.values():
            if other.order == category.order:
                raise ValueError(
                    f"source category {category.id!r} has order {category.order}, already used by {other.id!r}"
                )
        where = LazyOrigin(category, f"source category {category.id!r} ({{}})")  # formatted only on failure
        for hook, shape in CATEGORY_HOOKS.items():
            check_arity(getattr(category, hook, None), shape.count(",") + 1, f"source category {category.id!r} method", shape)
        try:
            params = list(category.cfunc_params)
        except (TypeError, ValueError) as exc:  # e.g. a CfuncParam with an unknown type
            raise (TypeError if isinstance(exc, TypeError) else ValueError)(f"{where}: {exc}") from exc
        taken = {p.name for c in categories.values() for p in c.cfunc_params}
        for p in params:
            if not isinstance(p, CfuncParam):
                raise TypeError(f"{where}: cfunc_params must be CfuncParam instances, got {p!r}")
            try:  # again: a CfuncParam can be forged past its constructor
                _checked_type_text(p.name, p.type)
            except ValueError as exc:
                raise ValueError(f"{where}: {exc}") from None
            if p.name in taken:
                raise ValueError(f"{where}: cfunc parameter {p.name!r} is already used")
            taken.add(p.name)
        categories[category.id] = category
        return category

    @staticmethod
    def unregister(category_id: str) -> None:
        del CompilationContext.current().source_categories[category_id]

    @staticmethod
    def get(category_id: str) -> SourceCategory | None:
        return CompilationContext.current().source_categories.get(category_id)

    @staticmethod
    def ordered() -> list[SourceCategory]:
        return sorted(CompilationContext.current().source_categories.values(), key=lambda c: c.order)

    @staticmethod
    def cfunc_params() -> list[CfuncParam]:
        return [p for c in SourceRegistry.ordered() for p in c.cfunc_params]
