"""The arithmetic of Timeloop v4 specifications, evaluated without running code.

timeloopfe evaluates every string of a v4 specification as a Python expression over its
``variables`` and the attributes above (``depth: GLB_DEPTH * 2``). energysim reads the
same strings with :func:`evaluate`, which walks the parsed expression and accepts only
numbers, names it was given and ``+ - * / // % **`` with parentheses: never ``eval``.

- a number, a boolean, ``None`` or a string that is a plain word no name defines
  (``LPDDR4``, ``45nm``, ``must_specify``) is returned as it is (where energysim reads the
  value, a word close to a defined name is refused as a misspelling of it);
- arithmetic over numbers and defined names gives its number;
- arithmetic naming an undefined name is refused with the nearest defined one;
- anything else (a call such as ``log2(depth)``, a comparison, an attribute) is refused
  when ``strict`` (the attribute is one energysim reads), else returned as text for the
  importer's note.
"""

from __future__ import annotations

import ast
import difflib
import math
import operator
from typing import Any

from energysim.errors import ConfigError, UnsupportedError

MAX_EXPONENT = 64
"""Largest exponent ``**`` may raise to (a larger one could build a number of any size)."""
MAX_MAGNITUDE = 1e30
"""Largest magnitude an intermediate result may reach (Timeloop's sizes and energies are far smaller)."""
MAX_EXPRESSION_CHARS = 1000
"""Longest expression evaluated (Python's parser recurses once per operator; Timeloop's are one line)."""
MAX_EXPRESSION_DEPTH = 100
"""Deepest nesting of operators evaluated (the walk recurses once per level)."""

_OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
              ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}


class NotArithmetic(Exception):
    """The expression holds something other than numbers, names and arithmetic (a call, a comparison, ...)."""


def evaluate(value: Any, symbols: dict[str, Any], where: str, strict: bool = False,
             unevaluated: list[str] | None = None) -> Any:
    """The value of one specification entry, its arithmetic evaluated over ``symbols``.

    Parameters
    ----------
    value
        The YAML value; only strings are evaluated.
    symbols
        Names the expression may use (variables, attributes above and before it) -> their values.
    where
        File and key path, named in every refusal.
    strict
        Refuse what is not arithmetic (an attribute energysim reads); else return it as text.
    unevaluated
        When given, ``where`` and the text are appended for an expression returned as text.

    Returns
    -------
    Any
        A number for arithmetic, else the value unchanged.

    Raises
    ------
    ConfigError
        Arithmetic naming an undefined or non-numeric name, dividing by zero, or too large a number.
    UnsupportedError
        With ``strict``: an expression that is not arithmetic.
    """
    if not isinstance(value, str):
        return value
    text = value.strip()
    if len(text) > MAX_EXPRESSION_CHARS and any(sign in text for sign in "+-*/%"):
        raise ConfigError(f"{where}: an expression must be at most {MAX_EXPRESSION_CHARS} characters "
                          f"(got {len(text)} characters beginning {text[:20]!r})")
    try:
        tree = ast.parse(text, mode="eval").body
    except (SyntaxError, ValueError):
        return value                                       # 45nm, "a b": plain text
    except (RecursionError, MemoryError):
        raise ConfigError(f"{where}: an expression must nest at most {MAX_EXPRESSION_DEPTH} operators deep "
                          f"(got one Python's parser cannot hold, beginning {text[:20]!r})") from None
    depth = _depth(tree)
    if depth > MAX_EXPRESSION_DEPTH:
        raise ConfigError(f"{where}: an expression must nest at most {MAX_EXPRESSION_DEPTH} operators deep "
                          f"(got {depth} levels, beginning {text[:20]!r})")
    if isinstance(tree, ast.Name) and tree.id not in symbols:
        if strict and difflib.get_close_matches(tree.id, sorted(symbols), n=1, cutoff=0.8):
            _arithmetic(tree, symbols, where, text)        # DEPTHS where DEPTH is defined: refused with the name meant
        return value                                       # LPDDR4: a word, not a name
    try:
        return _arithmetic(tree, symbols, where, text)
    except NotArithmetic as exc:
        if strict:
            raise UnsupportedError(f"{where}: {text!r} uses {exc}, which energysim does not evaluate (it evaluates "
                                   f"+ - * / // % ** over numbers and variables and runs no code); give the number")
        if unevaluated is not None:
            unevaluated.append(f"{where} = {text!r}")
        return value


def _depth(tree: ast.AST) -> int:
    """Levels of nesting in ``tree``, counted without recursion."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _arithmetic(node: ast.AST, symbols: dict[str, Any], where: str, text: str) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, bool)):
        if isinstance(node.value, float) and (not math.isfinite(node.value) or abs(node.value) > MAX_MAGNITUDE):
            raise ConfigError(f"{where}: {text!r} must be a finite real number of at most {MAX_MAGNITUDE:g} "
                              f"(got {node.value!r})")
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in symbols:
            near = difflib.get_close_matches(node.id, sorted(symbols), n=1, cutoff=0.6)
            hint = f"; did you mean '{near[0]}'?" if near else ""
            raise ConfigError(f"{where}: {text!r} names {node.id!r}, which no variable or attribute above defines "
                              f"(got {text!r}){hint}")
        found = symbols[node.id]
        if isinstance(found, bool) or not isinstance(found, (int, float)):
            if isinstance(node, ast.Name) and text == node.id:
                return found                               # the whole value is the name: its value, whatever it is
            raise ConfigError(f"{where}: {text!r} computes with {node.id!r}, which is not a number (got {found!r})")
        return found
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = _arithmetic(node.operand, symbols, where, text)
        return -operand if isinstance(node.op, ast.USub) else +operand
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        left = _arithmetic(node.left, symbols, where, text)
        right = _arithmetic(node.right, symbols, where, text)
        if isinstance(node.op, ast.Pow) and abs(right) > MAX_EXPONENT:
            raise ConfigError(f"{where}: {text!r}: exponents must be at most {MAX_EXPONENT} (got {right!r})")
        try:
            result = _OPERATORS[type(node.op)](left, right)
        except ZeroDivisionError:
            raise ConfigError(f"{where}: {text!r} divides by zero (got {text!r})") from None
        if isinstance(result, complex) or not math.isfinite(result) or abs(result) > MAX_MAGNITUDE:
            raise ConfigError(f"{where}: {text!r} must give a finite real number of at most {MAX_MAGNITUDE:g} "
                              f"(got {result!r})")
        return result
    kind = {ast.Call: "a function call", ast.Compare: "a comparison", ast.Attribute: "an attribute access",
            ast.BoolOp: "a logical operator", ast.IfExp: "a conditional", ast.Subscript: "an index"}
    raise NotArithmetic(kind.get(type(node), f"a {type(node).__name__} expression"))
