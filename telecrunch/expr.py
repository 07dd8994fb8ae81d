"""A small, safe expression language for derived fields (never ``eval``).

An expression is parsed with Python's ``ast`` module and only these nodes are accepted:
numbers, names (other fields of the same record, plus ``source``, ``seq`` and ``t``, the
seconds since ``time.start``), ``+ - * / // % **``, unary ``-``/``+``, comparisons, ``and``,
``or``, ``not``, a conditional ``a if cond else b``, and calls of the functions in
``FUNCTIONS``. It compiles to a tree of numpy operations evaluated over whole columns.
Transcendental functions are TeleCrunch's deterministic ones.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from telecrunch.vecmath import exp_array, log_array, sin_turns_array

BUILTIN_NAMES = ("source", "seq", "t")


def _as_float(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float64)


def _log(x: np.ndarray) -> np.ndarray:
    x = _as_float(x)
    out = np.full(x.shape, np.nan)
    ok = x > 0
    out[ok] = log_array(x[ok])
    out[x == 0] = -np.inf
    return out


FUNCTIONS: dict[str, tuple[int, int, Callable]] = {
    # name: (min args, max args, function)
    "abs": (1, 1, np.abs),
    "min": (2, 8, lambda *xs: _reduce(np.minimum, xs)),
    "max": (2, 8, lambda *xs: _reduce(np.maximum, xs)),
    "clip": (3, 3, lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi)),
    "sqrt": (1, 1, lambda x: np.sqrt(np.maximum(_as_float(x), 0.0))),
    "exp": (1, 1, lambda x: exp_array(_as_float(x))),
    "log": (1, 1, _log),
    "sin": (1, 1, lambda x: sin_turns_array(_as_float(x) / (2 * math.pi))),
    "cos": (1, 1, lambda x: sin_turns_array(_as_float(x) / (2 * math.pi) + 0.25)),
    "floor": (1, 1, np.floor),
    "round": (1, 1, np.rint),
}

_BINARY = {
    ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.true_divide,
    ast.FloorDiv: np.floor_divide, ast.Mod: np.mod, ast.Pow: np.power,
}
_COMPARE = {
    ast.Lt: np.less, ast.LtE: np.less_equal, ast.Gt: np.greater, ast.GtE: np.greater_equal,
    ast.Eq: np.equal, ast.NotEq: np.not_equal,
}


def _reduce(fn, xs):
    out = xs[0]
    for x in xs[1:]:
        out = fn(out, x)
    return out


class ExprError(ValueError):
    """An expression is malformed or names something it may not."""


@dataclass(frozen=True)
class Expression:
    text: str
    names: tuple[str, ...]  # the names it reads, in first-use order
    _fn: Callable[[Mapping[str, np.ndarray]], np.ndarray]

    def evaluate(self, values: Mapping[str, np.ndarray], n: int) -> np.ndarray:
        """The expression over ``n`` records, reading named columns from ``values``."""
        with np.errstate(all="ignore"):
            out = self._fn(values)
        return np.broadcast_to(np.asarray(out, dtype=np.float64), (n,)).copy()


def compile_expression(text: str, allowed: set[str]) -> Expression:
    """Parse and check ``text``; raise ExprError naming the first problem."""
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ExprError(f"is not a valid expression ({exc.msg})") from None
    names: list[str] = []
    fn = _compile(tree.body, allowed, names)
    return Expression(text, tuple(names), fn)


def _compile(node: ast.AST, allowed: set[str], names: list[str]) -> Callable:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and \
            not isinstance(node.value, bool):
        value = float(node.value)
        return lambda v: value
    if isinstance(node, ast.Name):
        if node.id not in allowed:
            known = ", ".join(sorted(allowed)) or "none"
            raise ExprError(f"unknown name {node.id!r} (usable: {known})")
        if node.id not in names:
            names.append(node.id)
        key = node.id
        return lambda v: v[key]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        op = _BINARY[type(node.op)]
        left, right = _compile(node.left, allowed, names), _compile(node.right, allowed, names)
        return lambda v: op(_num(left(v)), _num(right(v)))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd | ast.Not):
        inner = _compile(node.operand, allowed, names)
        if isinstance(node.op, ast.USub):
            return lambda v: np.negative(_num(inner(v)))
        if isinstance(node.op, ast.Not):
            return lambda v: np.logical_not(inner(v))
        return inner
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE:
        op = _COMPARE[type(node.ops[0])]
        left = _compile(node.left, allowed, names)
        right = _compile(node.comparators[0], allowed, names)
        return lambda v: op(_num(left(v)), _num(right(v)))
    if isinstance(node, ast.BoolOp):
        parts = [_compile(x, allowed, names) for x in node.values]
        op = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
        return lambda v: _reduce(op, [p(v) for p in parts])
    if isinstance(node, ast.IfExp):
        cond = _compile(node.test, allowed, names)
        yes, no = _compile(node.body, allowed, names), _compile(node.orelse, allowed, names)
        return lambda v: np.where(cond(v), _num(yes(v)), _num(no(v)))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        name = node.func.id
        if name not in FUNCTIONS:
            raise ExprError(f"unknown function {name!r} (known: {', '.join(FUNCTIONS)})")
        lo, hi, fn = FUNCTIONS[name]
        if not lo <= len(node.args) <= hi:
            raise ExprError(f"{name}() takes {lo}" + (f" to {hi}" if hi != lo else "")
                            + f" arguments, not {len(node.args)}")
        args = [_compile(a, allowed, names) for a in node.args]
        return lambda v: fn(*[_num(a(v)) for a in args])
    raise ExprError(f"may not contain {ast.unparse(node)!r} (numbers, field names, arithmetic, "
                    "comparisons, 'if else' and functions only)")


def _num(x):
    """Booleans take part in arithmetic as 0/1, integers as exact floats."""
    if isinstance(x, np.ndarray) and x.dtype.kind in "biu":
        return x.astype(np.float64)
    return x
