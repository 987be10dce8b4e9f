"""Answers sympy could grind on for minutes, recognised in linear time before any parsing.

``unsafe_reason(text)`` returns why an answer is refused (a sentence) or None. The rules look
at the LaTeX structure only, never evaluate anything, and cost one pass over the text plus
a bounded look at each exponent and each argument:

- longer than ``MAX_ANSWER_CHARS`` (boxed answers) or nested deeper than ``MAX_BRACE_DEPTH``;
- a power tower: ``9^{9}^{9}``, ``2^2^2``, ``9^{9^{9}}`` (a numeric exponent with a power);
- a numeric exponent whose value may exceed ``MAX_NUMERIC_EXPONENT`` (``2^{10^{6}}``,
  ``2^{1000\\cdot 1000}``), or a power whose integer result would have more than
  ``MAX_RESULT_DIGITS`` digits, or a power of a group that already holds a power or a
  factorial raised to more than ``MAX_NESTED_EXPONENT``;
- a factorial, ``\\Gamma`` or binomial of a number that may exceed ``MAX_COMBINATORIAL``
  (``99999!``, ``\\Gamma(10^{10})``, ``\\binom{10^9}{5\\cdot10^8}``) or of something that
  holds a factorial itself (``(100!)!``, ``((((3!)!)!)!)``);
- a sum or product whose bounds may exceed ``MAX_COMBINATORIAL``.

Symbolic arguments (``(n+1)!``, ``\\binom{n}{2}``, ``x^{n}``) are left alone.
"""

from __future__ import annotations

import math
import re

#: Longest boxed answer considered at all.
MAX_ANSWER_CHARS = 1000
#: Deepest nesting of ``{}``, ``()`` and ``[]``.
MAX_BRACE_DEPTH = 12
#: Largest numeric exponent (its estimated value, see ``numeric_bound``).
MAX_NUMERIC_EXPONENT = 100_000
#: Most digits a power of an integer literal may produce.
MAX_RESULT_DIGITS = 1_000_000
#: Largest exponent on a group that already holds a power or a factorial.
MAX_NESTED_EXPONENT = 100
#: Largest argument of a factorial, Gamma, binomial, or bound of a sum or product.
MAX_COMBINATORIAL = 10_000

_NOISE = re.compile(r"\\(?:left|right|[bB]igg?[lr]?)(?![a-zA-Z])|\\[,;:! ]|\s+")
_OPEN, _CLOSE = "{([", "})]"
_TOKEN = re.compile(
    r"\^|\*\*|(?<!\\)!(?!=)|\\(?:Gamma|operatorname\{Gamma\}|d?t?binom|choose|sum|prod)"
    r"(?![a-zA-Z])"
)
_NUMBER_AT = re.compile(r"-?\d+(?:\.\d+)?")
_LITERAL = re.compile(r"\d+")
_COMMAND = re.compile(r"\\[a-zA-Z]+")
_LETTER = re.compile(r"[a-zA-Z]")
#: Commands that keep an expression numeric (``2\cdot 10^{8}`` has no variable).
_NUMERIC_COMMANDS = {"\\cdot", "\\times", "\\frac", "\\dfrac", "\\tfrac", "\\sqrt"}


def numeric_bound(fragment: str) -> float | None:
    """An upper bound on the magnitude of a numeric fragment, None if it has a variable.

    The product of its integer literals (each counted as at least 2) bounds sums and
    products; a power or factorial inside makes it unbounded (``inf``).
    """
    for command in _COMMAND.findall(fragment):
        if command not in _NUMERIC_COMMANDS:
            return None
    if _LETTER.search(_COMMAND.sub("", fragment)):
        return None
    if "^" in fragment or "**" in fragment or "!" in fragment:
        return math.inf
    bound = 1.0
    for literal in _LITERAL.findall(fragment):
        if len(literal) > 15:
            return math.inf
        bound *= max(2, int(literal))
        if bound > 1e15:
            return math.inf
    return bound


class _Structure:
    """Matching brackets of a normalised answer, computed once in one pass."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.end: dict[int, int] = {}  # opener index -> index after its closer
        self.start: dict[int, int] = {}  # closer index -> its opener's index
        self.depth = 0
        stack: list[int] = []
        for i, char in enumerate(text):
            if char in _OPEN:
                stack.append(i)
                self.depth = max(self.depth, len(stack))
            elif char in _CLOSE and stack:
                opener = stack.pop()
                self.end[opener] = i + 1
                self.start[i] = opener

    def operand_after(self, i: int) -> tuple[str, int]:
        """The operand starting at ``i`` (a group, a number, a command or one character)
        and the index after it."""
        text = self.text
        if i >= len(text):
            return "", i
        if i in self.end:
            return text[i + 1 : self.end[i] - 1], self.end[i]
        number = _NUMBER_AT.match(text, i)
        if number:
            return number.group(), number.end()
        command = _COMMAND.match(text, i)
        if command:
            return command.group(), command.end()
        return text[i], i + 1

    def operand_before(self, i: int) -> str:
        """The operand ending just before ``i``: a group's content, a number or a letter."""
        text = self.text
        j = i - 1
        while j >= 0 and text[j] == "!":  # 5!! and (3!)! look through to their operand
            j -= 1
        if j < 0:
            return ""
        if j in self.start:
            return text[self.start[j] + 1 : j]
        k = j
        while k >= 0 and (text[k].isdigit() or text[k] == "."):
            k -= 1
        return text[k + 1 : j + 1] if k < j else text[j]


def _too_big(argument: str) -> bool:
    """Whether a combinatorial argument may exceed ``MAX_COMBINATORIAL`` or nests one."""
    if "!" in argument or "\\Gamma" in argument or "binom" in argument:
        return True
    bound = numeric_bound(argument)
    return bound is not None and bound > MAX_COMBINATORIAL


def unsafe_reason(text: str, max_chars: int | None = MAX_ANSWER_CHARS) -> str | None:
    """Why sympy could run for minutes on this answer, or None when it looks safe."""
    if max_chars is not None and len(text) > max_chars:
        return f"longer than {max_chars} characters"
    s = _NOISE.sub("", text)
    structure = _Structure(s)
    if structure.depth > MAX_BRACE_DEPTH:
        return f"nested deeper than {MAX_BRACE_DEPTH} groups"
    bounded = "\\sum" in s or "\\prod" in s
    for match in _TOKEN.finditer(s):
        token = match.group()
        if token in ("^", "**"):
            exponent, after = structure.operand_after(match.end())
            if s.startswith(("^", "**"), after):
                return "a numeric power tower" if numeric_bound(exponent) else "a power tower"
            bound = numeric_bound(exponent)
            if bound is None:
                continue
            if bound == math.inf:
                return "a numeric power tower"
            if bound > MAX_NUMERIC_EXPONENT or (bounded and bound > MAX_COMBINATORIAL):
                return f"an exponent above {MAX_NUMERIC_EXPONENT}"
            base = structure.operand_before(match.start())
            if base.isdigit() and len(base) * bound > MAX_RESULT_DIGITS:
                return f"a power with more than {MAX_RESULT_DIGITS} digits"
            nested = any(mark in base for mark in ("^", "**", "!"))
            if nested and bound > MAX_NESTED_EXPONENT:
                return "a large power of a power or factorial"
        elif token == "!":
            if _too_big(structure.operand_before(match.start())):
                return "a factorial of a large or composite number"
        elif token == "\\choose":
            if _too_big(s.replace("\\choose", "\\cdot")):
                return "a binomial of a large number"
        elif token not in ("\\sum", "\\prod"):
            first, after = structure.operand_after(match.end())
            arguments = [first]
            if "binom" in token:
                arguments.append(structure.operand_after(after)[0])
            if any(_too_big(argument) for argument in arguments):
                return "a Gamma or binomial of a large number"
    return None
