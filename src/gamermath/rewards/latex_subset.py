"""A fast path for the simplest LaTeX answers: numbers, fractions, roots, powers, ``\\pi``,
single-letter variables, ``+ - \\cdot \\times /`` and implicit products.

math-verify parses LaTeX with an ANTLR grammar that costs several milliseconds per new string;
most answers a policy writes use none of that grammar's breadth. ``to_sympy`` reads answers
in the subset with a small recursive-descent parser that builds sympy objects from tokens
(``Integer``, ``Float``, ``Symbol``, ``Add``, ``Mul``, ``Pow``): model text is never handed
to Python's ``eval`` or ``sympy.parse_expr``. Everything outside the subset (commas, text,
units, degrees, ``%``, ``e``, ``i``, subscripts, multi-letter names, function calls such as
``f(x)``, matrices...) returns None and goes to math-verify's LaTeX parser as before. So do
integer powers whose result would be huge (``to_sympy`` never computes them).
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Any

#: Longest answer read, and longest integer literal.
MAX_CHARS = 1000
MAX_DIGITS = 1000
#: Most digits an integer power may produce before the parser declines it.
MAX_POWER_DIGITS = 20_000

_TOKEN = re.compile(
    r"\s*+(?:(?P<number>\d++(?:\.\d++)?|\.\d++)|(?P<command>\\[a-zA-Z]++)|(?P<letter>[a-zA-Z])"
    r"|(?P<symbol>[-+*/^(){}]))"
)
_RESERVED_LETTERS = set("eiEI")  # Euler's number and the imaginary unit: math-verify's call
_FRACTIONS = {"\\frac", "\\dfrac", "\\tfrac"}
_SKIPPED = {"\\left", "\\right"}


class _Decline(Exception):
    """The answer is outside the subset: let math-verify decide."""


def tokens(latex: str) -> list[tuple[str, str]]:
    """``(kind, text)`` tokens of the subset; raises ``_Decline`` on anything else."""
    out: list[tuple[str, str]] = []
    position = 0
    text = latex.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise _Decline
        position = match.end()
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "command" and value in _SKIPPED:
            continue
        if kind == "command" and value not in {*_FRACTIONS, "\\sqrt", "\\pi", "\\cdot", "\\times"}:
            raise _Decline
        if kind == "letter" and value in _RESERVED_LETTERS:
            raise _Decline
        out.append((kind, value))
    for (kind, value), (next_kind, next_value) in zip(out, out[1:], strict=False):
        if kind == "letter" and (next_kind in ("letter", "number") or next_value == "("):
            raise _Decline  # "xy" and "x2" are names, "f(x)" a call: math-verify's business
        if value in "*/" and next_value in "*/":
            raise _Decline  # Python's ** and //
    return out


class _Parser:
    """expr := term (('+'|'-') term)*;  term := unary ((op | implicit) unary)*;
    unary := ('-'|'+') unary | power;  power := primary ('^' exponent)?."""

    def __init__(self, items: list[tuple[str, str]]) -> None:
        self.items = items
        self.i = 0
        import sympy

        self.sympy = sympy

    def peek(self) -> tuple[str, str]:
        return self.items[self.i] if self.i < len(self.items) else ("end", "")

    def take(self, value: str | None = None) -> tuple[str, str]:
        item = self.peek()
        if item[0] == "end" or (value is not None and item[1] != value):
            raise _Decline
        self.i += 1
        return item

    def parse(self) -> Any:
        result = self.expr()
        if self.peek()[0] != "end":
            raise _Decline
        return result

    def expr(self) -> Any:
        value = self.term()
        while self.peek()[1] in ("+", "-"):
            sign = self.take()[1]
            right = self.term()
            value = value + right if sign == "+" else value - right
        return value

    def starts_primary(self) -> bool:
        kind, value = self.peek()
        return kind in ("number", "letter") or value in ("(", "{", "\\pi", "\\sqrt", *_FRACTIONS)

    def term(self) -> Any:
        value = self.unary()
        after_division = False
        while True:
            op = self.peek()[1]
            if op in ("*", "\\cdot", "\\times", "/"):
                self.take()
                right = self.unary()
                after_division = op == "/"
                if after_division and right == 0:
                    raise _Decline
                value = value / right if after_division else value * right
            elif self.starts_primary():
                if after_division:
                    raise _Decline  # 2/3x: (2/3)x or 2/(3x)? math-verify decides
                value = value * self.power()
            else:
                return value

    def unary(self) -> Any:
        if self.peek()[1] in ("-", "+"):
            sign = self.take()[1]
            value = self.unary()
            return -value if sign == "-" else value
        return self.power()

    def power(self) -> Any:
        base = self.primary()
        if self.peek()[1] != "^":
            return base
        self.take("^")
        exponent = self.argument()
        if self.peek()[1] == "^":
            raise _Decline  # a tower: a^b^c
        return checked_power(self.sympy, base, exponent)

    def argument(self) -> Any:
        """A braced group, or a single digit or letter (``\\frac12``, ``x^2``)."""
        kind, value = self.peek()
        if value == "{":
            return self.group("{", "}")
        if kind == "number":
            self.take()
            head, rest = value[0], value[1:]
            if rest:  # \frac12: the rest of the digits are the next argument
                self.items.insert(self.i, ("number", rest))
            return self.sympy.Integer(int(head))
        if kind == "letter":
            self.take()
            return self.sympy.Symbol(value)
        if value == "\\pi":
            self.take()
            return self.sympy.pi
        raise _Decline

    def group(self, opening: str, closing: str) -> Any:
        self.take(opening)
        value = self.expr()
        self.take(closing)
        return value

    def primary(self) -> Any:
        sympy = self.sympy
        kind, value = self.peek()
        if kind == "number":
            self.take()
            if "." in value:
                return sympy.Float(value)
            if len(value) > MAX_DIGITS:
                raise _Decline
            return sympy.Integer(int(value))
        if kind == "letter":
            self.take()
            return sympy.Symbol(value)
        if value == "\\pi":
            self.take()
            return sympy.pi
        if value in _FRACTIONS:
            self.take()
            numerator = self.argument()
            denominator = self.argument()
            if denominator == 0:
                raise _Decline
            return numerator / denominator
        if value == "\\sqrt":
            self.take()
            if self.peek()[1] != "{":
                raise _Decline  # \sqrt[3]{x} and \sqrt2: math-verify
            return sympy.sqrt(self.group("{", "}"))
        if value == "(":
            return self.group("(", ")")
        if value == "{":
            return self.group("{", "}")
        raise _Decline


def checked_power(sympy: Any, base: Any, exponent: Any) -> Any:
    """``base ** exponent``, declining integer powers with more than ``MAX_POWER_DIGITS``
    digits (sympy would compute them right away)."""
    if exponent.is_Integer and base.is_Rational and abs(exponent) > 1:
        size = max(abs(base.p), abs(base.q), 2)
        if math.log10(size) * abs(int(exponent)) > MAX_POWER_DIGITS:
            raise _Decline
    if exponent.is_Number and base.is_Number and base == 0 and exponent.is_negative:
        raise _Decline  # 0^{-1}: zoo, math-verify's call
    return sympy.Pow(base, exponent)


@lru_cache(maxsize=4096)
def to_sympy(latex: str) -> Any:
    """A sympy expression for an answer in the subset, or None (then use math-verify)."""
    text = latex.strip().rstrip(".").strip()
    if not text or len(text) > MAX_CHARS:
        return None
    try:
        value = _Parser(tokens(text)).parse()
    except (_Decline, ZeroDivisionError, ValueError, TypeError, OverflowError, RecursionError):
        return None
    return value if hasattr(value, "free_symbols") else None
