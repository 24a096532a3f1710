"""Numeric operations with the runtime faults of SPEC §5, as Numba intrinsics for generated code.

One generic intrinsic per operation decides by the operand types what to emit:
- numbers: Python's checks (division by zero, float-to-int conversion of NaN/inf/out-of-range
  values, ``int ** negative int``, ``0.0 ** negative``, float ``**`` overflow), then the same
  arithmetic Numba does (float ``**`` and ``int ** int`` are computed here: libm ``pow`` as in
  CPython, and wrapping square-and-multiply without Numba's float fallback for big exponents);
- datetime64[ns] / timedelta64[ns]: int64 arithmetic whose overflow (or a result equal to NaT,
  INT64_MIN) is a fault;
- anything else: Numba's own implementation of the operator, unchanged.

A failed check records its fault (code, message, entry-point name) in the runtime's error record
and raises, which unwinds the call like a Python exception; the entry point then leaves the
precise record in place (first fault wins). The ``*_ieee`` variants, for
``CompilationOptions(error_model="numpy")``, keep only what prevents a hardware trap: an int
divisor of -1 (``INT64_MIN // -1`` traps on x86) is computed apart.
"""

from __future__ import annotations

import math
import operator
from typing import Any, Callable

from llvmlite import ir
from numba import types
from numba.core import cgutils, errors
from numba.extending import intrinsic
from numba_rt import abi

from .intrinsics import DATETIME, TIMEDELTA, entry_name_pointer

__all__ = [
    "truediv",
    "floordiv",
    "mod",
    "divmod_",
    "floordiv_ieee",
    "mod_ieee",
    "divmod_ieee",
    "power",
    "add",
    "sub",
    "mul",
    "to_int",
    "round_int",
    "floor_int",
    "ceil_int",
    "trunc_int",
    "CHECKED_HELPERS",
]

_I32 = ir.IntType(32)
_I64 = ir.IntType(64)
_INT64_MIN = -(2**63)
_TWO_63 = float(2**63)
Code = abi.ErrorCode

_TEMPORAL_MESSAGE = "datetime/timedelta result outside the int64-nanosecond range (years 1677 to 2262)"


# -- faults -------------------------------------------------------------------------------------
def _record_fault(context: Any, builder: Any, code: abi.ErrorCode, message: Any) -> None:
    """Record ``code`` with ``message`` (a str or an ``i8*``), then raise out of the function."""
    module = builder.module
    fnty = ir.FunctionType(ir.VoidType(), [_I32, cgutils.voidptr_t, cgutils.voidptr_t])
    fn = cgutils.get_or_insert_function(module, fnty, abi.ERROR_SET_SYMBOL)
    if isinstance(message, str):
        message = context.insert_const_string(module, message)
    builder.call(fn, [_I32(int(code)), message, entry_name_pointer(builder)])
    context.call_conv.return_user_exc(builder, RuntimeError, ("runtime fault",))


def _fault_if(context: Any, builder: Any, bad: Any, code: abi.ErrorCode, message: Any) -> None:
    with cgutils.if_unlikely(builder, bad):
        _record_fault(context, builder, code, message() if callable(message) else message)


# -- types --------------------------------------------------------------------------------------
def _plain(t: types.Type) -> types.Type:
    """``t`` without Optional and literal wrappers (the cast at the call unwraps them)."""
    return types.unliteral(t.type if isinstance(t, types.Optional) else t)


def _is_int(t: types.Type) -> bool:
    return isinstance(t, (types.Integer, types.Boolean))


def _is_number(t: types.Type) -> bool:
    return isinstance(t, (types.Integer, types.Float, types.Boolean))


def _is_datetime(t: types.Type) -> bool:
    return t == DATETIME


def _is_timedelta(t: types.Type) -> bool:
    return t == TIMEDELTA


def _resolve(typingctx: Any, fn: Any, args: tuple, symbol: str) -> Any:
    """Numba's signature of ``fn(*args)``, or a typing error in Python's words."""
    try:
        sig = typingctx.resolve_function_type(fn, args, {})
    except errors.TypingError:
        sig = None
    if sig is None:
        shown = " and ".join(str(a) for a in args)
        raise errors.TypingError(f"unsupported operand type(s) for {symbol}: {shown}")
    return sig


def _cast_args(context: Any, builder: Any, values: Any, from_types: Any, to_types: Any) -> list:
    return [context.cast(builder, v, f, t) for v, f, t in zip(values, from_types, to_types)]


def _delegating(fn: Any, sig: Any) -> Callable:
    """Codegen that calls Numba's implementation of ``fn`` for ``sig``."""

    def codegen(context, builder, signature, args):
        values = _cast_args(context, builder, args, signature.args, sig.args)
        return context.get_function(fn, sig)(builder, values)

    return codegen


def _named(name: str, typer: Callable) -> Any:
    typer.__name__ = typer.__qualname__ = name
    return intrinsic(typer)


# -- float helpers ------------------------------------------------------------------------------
def _llvm_unary(builder: Any, name: str, value: Any) -> Any:
    fnty = ir.FunctionType(value.type, [value.type])
    suffix = "f64" if value.type == ir.DoubleType() else "f32"
    return builder.call(cgutils.get_or_insert_function(builder.module, fnty, f"llvm.{name}.{suffix}"), [value])


def _is_inf(builder: Any, value: Any) -> Any:
    return builder.fcmp_ordered("==", _llvm_unary(builder, "fabs", value), value.type(math.inf))


def _is_finite(builder: Any, value: Any) -> Any:
    return builder.fcmp_ordered("<", _llvm_unary(builder, "fabs", value), value.type(math.inf))


def _fits_int64(builder: Any, value: Any, *, nat_excluded: bool = False) -> Any:
    """Whether the integral float ``value`` converts to int64 exactly (False for NaN)."""
    low = builder.fcmp_ordered(">" if nat_excluded else ">=", value, value.type(-_TWO_63))
    return builder.and_(low, builder.fcmp_ordered("<", value, value.type(_TWO_63)))


def _conversion_message(context: Any, builder: Any, value: Any) -> Any:
    module = builder.module
    nan = context.insert_const_string(module, "cannot convert float NaN to integer")
    inf = context.insert_const_string(module, "cannot convert float infinity to integer")
    big = context.insert_const_string(module, "float value outside the int64 range cannot be converted to int")
    is_nan = builder.fcmp_unordered("uno", value, value)
    return builder.select(is_nan, nan, builder.select(_is_inf(builder, value), inf, big))


def _checked_fptosi(context: Any, builder: Any, value: Any) -> Any:
    """int64 of the integral float ``value``; INVALID_CONVERSION when it does not fit."""
    bad = builder.not_(_fits_int64(builder, value))
    _fault_if(context, builder, bad, Code.INVALID_CONVERSION, lambda: _conversion_message(context, builder, value))
    return builder.fptosi(value, _I64)


def _temporal_from_float(context: Any, builder: Any, value: Any) -> Any:
    """int64 nanoseconds of a float result (truncated, as Numba does); OVERFLOW when it is NaN or
    does not fit (INT64_MIN is NaT, never a value)."""
    _fault_if(context, builder, builder.not_(_fits_int64(builder, value, nat_excluded=True)), Code.OVERFLOW, _TEMPORAL_MESSAGE)
    return builder.fptosi(value, _I64)


# -- division -----------------------------------------------------------------------------------
_ZERO_MESSAGES = {
    operator.truediv: ("division by zero", "float division by zero"),
    operator.floordiv: ("integer division or modulo by zero", "float floor division by zero"),
    operator.mod: ("integer division or modulo by zero", "float modulo by zero"),
    divmod: ("integer division or modulo by zero", "float divmod() by zero"),
}
_SYMBOLS = {operator.truediv: "/", operator.floordiv: "//", operator.mod: "%", divmod: "divmod()", operator.pow: "**",
            operator.add: "+", operator.sub: "-", operator.mul: "*"}  # fmt: skip


def _division(name: str, fn: Any, checked: bool) -> Any:
    """``/``, ``//``, ``%`` or ``divmod``: a zero divisor (number or timedelta) is DIVISION_BY_ZERO
    (``checked``); an int divisor of -1 never reaches the hardware division."""

    def typer(typingctx, a, b):
        sig = _resolve(typingctx, fn, (_plain(a), _plain(b)), _SYMBOLS[fn])
        ta, tb = sig.args
        guard_minus_one = fn is not operator.truediv and isinstance(ta, types.Integer) and isinstance(tb, types.Integer) and tb.signed
        float_temporal = _is_timedelta(ta) and isinstance(tb, types.Float) and fn in (operator.truediv, operator.floordiv)
        if _is_timedelta(ta) or _is_timedelta(tb):
            message = "timedelta division by zero"
        else:
            message = _ZERO_MESSAGES[fn][isinstance(ta, types.Float) or isinstance(tb, types.Float)]

        def codegen(context, builder, signature, args):
            x, y = _cast_args(context, builder, args, signature.args, sig.args)
            if checked and (_is_number(tb) or _is_timedelta(tb)):
                _fault_if(context, builder, cgutils.is_scalar_zero(builder, y), Code.DIVISION_BY_ZERO, message)
            if checked and float_temporal:  # Numba's fptosi of an out-of-range quotient is undefined
                return _temporal_from_float(context, builder, builder.fdiv(builder.sitofp(x, y.type), y))
            if not guard_minus_one:
                return context.get_function(fn, sig)(builder, [x, y])
            minus_one = builder.icmp_signed("==", y, y.type(-1))
            result = context.get_function(fn, sig)(builder, [x, builder.select(minus_one, y.type(1), y)])
            negated = builder.neg(x)  # wraps: INT64_MIN // -1 == INT64_MIN
            if fn is operator.floordiv:
                return builder.select(minus_one, negated, result)
            if fn is divmod:  # (-x, 0): the remainder by 1 is already 0
                quotient = builder.select(minus_one, negated, builder.extract_value(result, 0))
                return builder.insert_value(result, quotient, 0)
            return result  # x % -1 == x % 1 == 0

        return sig.return_type(a, b), codegen

    return _named(name, typer)


truediv = _division("truediv", operator.truediv, checked=True)
floordiv = _division("floordiv", operator.floordiv, checked=True)
mod = _division("mod", operator.mod, checked=True)
divmod_ = _division("divmod", divmod, checked=True)
floordiv_ieee = _division("floordiv_ieee", operator.floordiv, checked=False)
mod_ieee = _division("mod_ieee", operator.mod, checked=False)
divmod_ieee = _division("divmod_ieee", divmod, checked=False)


# -- power --------------------------------------------------------------------------------------
def _int_power(builder: Any, base: Any, exponent: Any) -> Any:
    """``base ** exponent`` (exponent >= 0) by square-and-multiply in wrapping int64."""
    result_ptr = cgutils.alloca_once_value(builder, _I64(1))
    base_ptr = cgutils.alloca_once_value(builder, base)
    exp_ptr = cgutils.alloca_once_value(builder, exponent)
    head = builder.append_basic_block("ncc.pow.head")
    body = builder.append_basic_block("ncc.pow.body")
    done = builder.append_basic_block("ncc.pow.done")
    builder.branch(head)
    builder.position_at_end(head)
    e = builder.load(exp_ptr)
    builder.cbranch(builder.icmp_signed("!=", e, _I64(0)), body, done)
    builder.position_at_end(body)
    b = builder.load(base_ptr)
    r = builder.load(result_ptr)
    odd = builder.trunc(e, ir.IntType(1))
    builder.store(builder.select(odd, builder.mul(r, b), r), result_ptr)
    builder.store(builder.lshr(e, _I64(1)), exp_ptr)
    builder.store(builder.mul(b, b), base_ptr)
    builder.branch(head)
    builder.position_at_end(done)
    return builder.load(result_ptr)


@intrinsic
def power(typingctx, a, b):
    """``a ** b`` / ``pow(a, b)``: int ** int wraps, a negative int exponent is NEGATIVE_POWER;
    with a float operand it is libm ``pow`` (as CPython), ``0.0 ** negative`` is DIVISION_BY_ZERO
    and an infinite result of finite operands is OVERFLOW (Python's OverflowError)."""
    pa, pb = _plain(a), _plain(b)
    if _is_int(pa) and _is_int(pb):

        def int_codegen(context, builder, signature, args):
            x, e = _cast_args(context, builder, args, signature.args, (types.int64, types.int64))
            message = "integer ** negative integer (Python would return a float: use a float base, 2.0 ** -1)"
            _fault_if(context, builder, builder.icmp_signed("<", e, _I64(0)), Code.NEGATIVE_POWER, message)
            return _int_power(builder, x, e)

        return types.int64(a, b), int_codegen
    if _is_number(pa) and _is_number(pb):
        result = _resolve(typingctx, operator.pow, (pa, pb), "**").return_type
        if not isinstance(result, types.Float):
            result = types.float64

        def float_codegen(context, builder, signature, args):
            x, y = _cast_args(context, builder, args, signature.args, (result, result))
            ll = x.type
            fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ll, [ll, ll]), f"llvm.pow.f{result.bitwidth}")
            zero_base = builder.fcmp_ordered("==", x, ll(0.0))
            negative = builder.fcmp_ordered("<", y, ll(0.0))  # finite: 0.0 ** -inf is inf, as in Python
            message = "0.0 cannot be raised to a negative power"
            bad = builder.and_(zero_base, builder.and_(negative, _is_finite(builder, y)))
            _fault_if(context, builder, bad, Code.DIVISION_BY_ZERO, message)
            r = builder.call(fn, [x, y])
            finite = builder.and_(_is_finite(builder, x), _is_finite(builder, y))
            _fault_if(context, builder, builder.and_(finite, _is_inf(builder, r)), Code.OVERFLOW, "float ** result too large")
            return r

        return result(a, b), float_codegen
    sig = _resolve(typingctx, operator.pow, (pa, pb), "**")
    return sig.return_type(a, b), _delegating(operator.pow, sig)


# -- + - * (only datetime/timedelta are checked) ------------------------------------------------
def _temporal_result(fn: Any, a: types.Type, b: types.Type) -> types.Type | None:
    """The result type of ``a fn b`` when it is checked datetime/timedelta arithmetic."""
    dt_a, dt_b, td_a, td_b = _is_datetime(a), _is_datetime(b), _is_timedelta(a), _is_timedelta(b)
    if fn is operator.add:
        return DATETIME if (dt_a and td_b) or (td_a and dt_b) else TIMEDELTA if td_a and td_b else None
    if fn is operator.sub:
        return DATETIME if dt_a and td_b else TIMEDELTA if (dt_a and dt_b) or (td_a and td_b) else None
    if fn is operator.mul and (td_a and _is_number(b) or _is_number(a) and td_b):
        return TIMEDELTA
    return None


def _additive(name: str, fn: Any, with_overflow: str) -> Any:
    def typer(typingctx, a, b):
        pa, pb = _plain(a), _plain(b)
        result = _temporal_result(fn, pa, pb)
        if result is None:
            sig = _resolve(typingctx, fn, (pa, pb), _SYMBOLS[fn])
            return sig.return_type(a, b), _delegating(fn, sig)

        def codegen(context, builder, signature, args):
            x, y = _cast_args(context, builder, args, signature.args, (pa, pb))
            if fn is operator.mul:
                td_first = _is_timedelta(pa)
                td, number, number_type = (x, y, pb) if td_first else (y, x, pa)
                if isinstance(number_type, types.Float):
                    return _temporal_from_float(context, builder, builder.fmul(builder.sitofp(td, number.type), number))
                x, y = td, context.cast(builder, number, number_type, types.int64)
            pair = getattr(builder, with_overflow)(x, y)
            value = builder.extract_value(pair, 0)
            bad = builder.or_(builder.extract_value(pair, 1), builder.icmp_signed("==", value, _I64(_INT64_MIN)))
            _fault_if(context, builder, bad, Code.OVERFLOW, _TEMPORAL_MESSAGE)
            return value

        return result(a, b), codegen

    return _named(name, typer)


add = _additive("add", operator.add, "sadd_with_overflow")
sub = _additive("sub", operator.sub, "ssub_with_overflow")
mul = _additive("mul", operator.mul, "smul_with_overflow")


# -- float -> int -------------------------------------------------------------------------------
def _conversion(name: str, fn: Any, rounding: str | None) -> Any:
    """``int(x)``, ``round(x)``, ``math.floor/ceil/trunc(x)``: of a float, the rounded value must
    fit int64 (INVALID_CONVERSION otherwise); anything else is Numba's own ``fn``."""

    def typer(typingctx, x):
        px = _plain(x)
        if not isinstance(px, types.Float):
            sig = _resolve(typingctx, fn, (px,), f"{getattr(fn, '__name__', fn)}()")
            return sig.return_type(x), _delegating(fn, sig)

        def codegen(context, builder, signature, args):
            value = context.cast(builder, args[0], signature.args[0], px)
            if rounding is not None:
                value = _llvm_unary(builder, rounding, value)
            return _checked_fptosi(context, builder, value)

        return types.int64(x), codegen

    return _named(name, typer)


to_int = _conversion("to_int", int, None)
round_int = _conversion("round_int", round, "rint")  # round half to even, as Python
floor_int = _conversion("floor_int", math.floor, "floor")
ceil_int = _conversion("ceil_int", math.ceil, "ceil")
trunc_int = _conversion("trunc_int", math.trunc, "trunc")

#: Every intrinsic of this module, by the helper name generated code calls it under.
CHECKED_HELPERS = {
    f"num_{name}": obj
    for name, obj in {
        "truediv": truediv, "floordiv": floordiv, "mod": mod, "divmod": divmod_,
        "floordiv_ieee": floordiv_ieee, "mod_ieee": mod_ieee, "divmod_ieee": divmod_ieee,
        "pow": power, "add": add, "sub": sub, "mul": mul,
        "int": to_int, "round": round_int, "floor": floor_int, "ceil": ceil_int, "trunc": trunc_int,
    }.items()
}  # fmt: skip
