"""A fast path for the simplest LaTeX answers: numbers, fractions, roots, powers, ``\\pi``,
single-letter variables, ``+ - \\cdot \\times``.

math-verify parses LaTeX with an ANTLR grammar that costs several milliseconds per new string;
most answers a policy writes use none of that grammar's breadth. ``to_sympy`` turns answers in
the subset into sympy expressions with ``sympy.parse_expr`` (about ten times cheaper) and
returns None for everything else (commas, text, units, degrees, ``%``, ``e``, ``i``,
subscripts, multi-letter names, matrices...), which then goes to math-verify as before.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

_ALLOWED = re.compile(r"[0-9a-zA-Z.+\-*/(){}^\s\\]*")
_COMMAND = re.compile(r"\\([a-zA-Z]+)")
_KNOWN = {"frac", "dfrac", "tfrac", "sqrt", "pi", "cdot", "times", "left", "right"}
_RESERVED_LETTERS = set("eiEI")  # Euler's number and the imaginary unit: math-verify's call


def _group(text: str, start: int) -> tuple[str, int] | None:
    """The content of the ``{...}`` group at ``text[start]`` and the index after it."""
    if start >= len(text) or text[start] != "{":
        return None
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1 : i], i + 1
    return None


def _argument(text: str, start: int) -> tuple[str, int] | None:
    """A command argument: a ``{...}`` group, or one digit or letter (``\\frac65``)."""
    while start < len(text) and text[start] == " ":
        start += 1
    if start < len(text) and text[start].isalnum():
        return text[start], start + 1
    return _group(text, start)


def to_python(latex: str) -> str | None:
    """The subset's LaTeX as Python expression syntax, or None outside the subset."""
    text = latex.strip().rstrip(".").strip()
    if not text or not _ALLOWED.fullmatch(text):
        return None
    if any(name not in _KNOWN for name in _COMMAND.findall(text)):
        return None
    if "**" in text or "//" in text:
        return None
    bare = _COMMAND.sub(" ", text)
    for run in re.findall(r"[a-zA-Z]+", bare):
        if len(run) > 1 or run in _RESERVED_LETTERS:
            return None
    if re.search(r"[a-zA-Z]\s*\(", bare):  # f(x): a function call or a product? math-verify
        return None
    return _translate(text)


def _translate(text: str) -> str | None:
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\":
            match = _COMMAND.match(text, i)
            if match is None:
                return None
            name, i = match.group(1), match.end()
            while i < len(text) and text[i] == " ":
                i += 1
            if name in ("frac", "dfrac", "tfrac"):
                first = _argument(text, i)
                second = _argument(text, first[1]) if first else None
                if not first or not second:
                    return None
                num, den = _translate(first[0]), _translate(second[0])
                if num is None or den is None:
                    return None
                out.append(f"(({num})/({den}))")
                i = second[1]
            elif name == "sqrt":
                inner = _group(text, i)
                if not inner:
                    return None
                body = _translate(inner[0])
                if body is None:
                    return None
                out.append(f"sqrt({body})")
                i = inner[1]
            elif name == "pi":
                out.append(" pi ")
            elif name in ("cdot", "times"):
                out.append("*")
            # \left and \right vanish
        elif char == "^":
            i += 1
            while i < len(text) and text[i] == " ":
                i += 1
            inner = _group(text, i)
            if inner:
                body = _translate(inner[0])
                i = inner[1]
            elif i < len(text) and (text[i].isalnum()):
                body, i = text[i], i + 1
            else:
                return None
            if body is None:
                return None
            out.append(f"**({body})")
        elif char == "{":
            out.append("(")
            i += 1
        elif char == "}":
            out.append(")")
            i += 1
        else:
            out.append(char)
            i += 1
    return "".join(out)


@lru_cache(maxsize=4096)
def to_sympy(latex: str) -> Any:
    """A sympy expression for an answer in the subset, or None (then use math-verify)."""
    python = to_python(latex)
    if python is None:
        return None
    from sympy import Float, Integer, Rational, Symbol, pi, sqrt
    from sympy.parsing.sympy_parser import (
        implicit_multiplication,
        parse_expr,
        standard_transformations,
    )

    names: dict[str, Any] = {"pi": pi, "sqrt": sqrt}
    for letter in set(re.findall(r"[a-zA-Z]", _COMMAND.sub(" ", latex))):
        names[letter] = Symbol(letter)
    known = {"Integer": Integer, "Float": Float, "Rational": Rational, "Symbol": Symbol}
    try:
        return parse_expr(
            python,
            local_dict=names,
            global_dict=known,
            transformations=(*standard_transformations, implicit_multiplication),
        )
    except Exception:  # anything odd: math-verify decides
        return None
