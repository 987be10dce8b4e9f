"""``sympy-equivalence``: 1.0 when the completion's answer is mathematically equal to the gold.

Built on math-verify: the gold (column ``answer``: LaTeX such as ``\\frac{14}{3}`` or
``(3, \\frac{\\pi}{2})``, or a GSM8K field ``... #### 1,080``) is parsed wrapped in
``\\boxed{}`` (a gold with its own ``$`` or boxes is read as math-verify reads a gold). The
prediction is, in order: a run of boxes (``\\boxed{1}, \\boxed{2}``, ``\\boxed{(2,2)} \\quad
\\text{and} \\quad \\boxed{(6,2)}``: math-verify joins them); the last ``\\boxed{}``; the text
after the last ``####``; the answer after the last "the answer is" (its ``$...$`` removed);
else the whole completion with math-verify's anchored LaTeX extraction (the same
configuration as ``trl.rewards.accuracy_reward``). An answer that holds its own ``$``/``\\(``
delimiters is read as text, by math-verify's LaTeX extraction and its *anchored* expression
extraction (``Final Answer: ... is 34``; its pattern hands ``sympy.parse_expr`` only digits,
operators, brackets and blanks). Then ``verify(gold, pred)``, gold first. math-verify's own
``signal.alarm`` timeouts are switched off; the reward runner's worker timeout is in force.

Guards, each with the case it was written for (tests/test_reward_math_verify_suite.py,
tests/test_reward_sympy_equivalence.py): ``exact_numbers`` (default on) compares two exact
rationals exactly (``1/2^99`` is not ``1/2^98``; a float against a rational must agree to a
relative 1e-6); two different plain numbers (``17 or 18``, ``\\boxed{17} or \\boxed{18}``)
are a hedge, scored 0 against a plain-number gold only (a tuple, an interval, ``-2,1`` are
answers); an unclosed last box is no answer and never reaches math-verify (whose regex takes
seconds on ``\\boxed{`` followed by 1,000 characters); ``gamermath.rewards.guards`` refuses
answers sympy could grind on.
"""
from __future__ import annotations

import math
import re
from collections.abc import Hashable, Mapping
from fractions import Fraction
from typing import Any

from gamermath.hookspecs import hookimpl
from gamermath.rewards.guards import MAX_ANSWER_CHARS, unsafe_reason
from gamermath.specs import Reward

#: Imported by the reward worker forkserver: math-verify, warmed (see gamermath.rewards.runner).
GMR_PRELOAD = ("gamermath.rewards.warmup",)

_THOUSANDS = re.compile(r"^\s*-?\d{1,3}(?:,\d{3})+(?:\.\d+)?\s*$")
# A stated answer that is one plain number, maybe with "$", "%" and up to three unit words:
# "The final answer is 1,080", "18 dollars", "25%". Possessive: linear time.
_PLAIN_NUMBER = re.compile(
    r"(?:(?:the\s++)?(?:final\s++)?answer\s++is\s*+:?\s*+)?(?:\\?\$\s*+)?"
    r"(?P<number>[-\u2212]?(?:\d{1,3}(?:,\d{3})++|\d++)(?:\.\d++)?)\s*+(?P<percent>\\?%)?"
    r"(?:\s*+[A-Za-z]++(?:\s++[A-Za-z]++){0,2})?\s*+\.?\s*+",
    re.IGNORECASE,
)


def gold_latex(gold: Any) -> str:
    """The answer as LaTeX: the part after ``####`` if any; a plain number with thousands
    separators (``1,080``, ``10,\\!080``, ``\\$32,\\!348``) becomes its digits."""
    from gamermath.rewards.answers import after_last_marker

    text = str(gold)
    tail = after_last_marker(text)
    if tail is not None:
        text = tail
    text = text.strip().rstrip(".").strip().replace("\u00b0", "^\\circ")
    number = text.replace("\\!", "").replace("\\,", ",").replace("{,}", ",")
    number = number.removeprefix("\\$").removeprefix("$").replace(" ", "")
    if _THOUSANDS.match(number):  # 1,080 / 10,\!080 / \$32,\!348
        text = number.replace(",", "")
    return text


def plain_number(fragment: str) -> tuple[Fraction, bool] | None:
    """``(value, percent)`` when a stated answer is one plain number (see ``_PLAIN_NUMBER``)."""
    from gamermath.rewards.answers import MAX_DIGITS

    found = _PLAIN_NUMBER.fullmatch(fragment[:MAX_KEY_CHARS])
    if found is None:
        return None
    digits = found.group("number").replace(",", "").replace("\u2212", "-")
    if len(digits) > MAX_DIGITS:
        return None
    try:
        return Fraction(digits), bool(found.group("percent"))
    except (ValueError, ZeroDivisionError):
        return None


#: Marks that make an extracted answer a piece of text with its own math (parsed as text).
_DELIMITERS = ("$", "\\(", "\\[", "\\boxed", "\\fbox")


def _has_math_delimiters(text: str) -> bool:
    """Whether the text holds math delimiters of its own (``\\$5`` is a dollar sign)."""
    text = text.replace("\\$", "")
    return any(mark in text for mark in _DELIMITERS)


def _unwrap_dollars(stated: str) -> str | None:
    """A stated answer without the ``$...$`` (and final period) around it:
    ``$(15,-29)$.`` -> ``(15,-29)``; None when it is not wrapped whole (what is inside
    must hold balanced ``$`` signs)."""
    text = stated.strip().rstrip(".").rstrip()
    for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if text.startswith(left) and text.endswith(right) and len(text) >= len(left + right):
            inner = text[len(left) : len(text) - len(right)].strip()
            if inner.count("$") % 2 == 0:
                return inner
    return None


def _stated_answer(stated: str, line: str) -> str:
    """The answer after "the answer is": its line unwrapped, else all that follows
    unwrapped (an answer over several lines), else the line itself."""
    for candidate in (line, stated):
        inner = _unwrap_dollars(candidate)
        if inner is not None:
            return inner
    return line.strip().rstrip(".")


def prediction_part(completion: str) -> tuple[str, str]:
    """``(kind, text)`` of the answer to verify: ``boxed`` (the last box's content),
    ``boxes`` (a run of boxes, read by math-verify, which joins ``\\boxed{1}, \\boxed{2}``),
    ``hash`` (after the last ``####``), ``number`` (a plain number stated after ``####`` or
    "the answer is", canonical, ``%`` kept), ``stated`` (other text after "the answer is"),
    or the whole ``text``; ``hedged`` for two different numbers where the answer is read
    (``17 or 18``, ``[0,1)``; see ``gamermath.rewards.answers``: a hedge only against a
    plain-number gold, else read as ``stated``) and ``("unclosed", "")`` when the last box
    never closes (no answer, never parsed)."""
    from gamermath.rewards.answers import (
        HEDGED,
        after_last_marker,
        answer_is_end,
        answer_number,
        box_run,
        last_box_unclosed,
        last_boxed,
    )

    boxed = last_boxed(completion)
    if boxed is not None:
        run = box_run(completion)
        if run is not None and run[1] - run[0] <= MAX_KEY_CHARS:
            return "boxes", completion[run[0] : run[1]]
        return "boxed", boxed.strip().replace("\u00b0", "^\\circ")
    if last_box_unclosed(completion):
        return "unclosed", ""
    tail = after_last_marker(completion)
    stated = tail if tail is not None and tail.strip() else None
    from_hash = stated is not None
    if stated is None:
        start = answer_is_end(completion)
        stated = None if start is None else completion[start : start + TEXT_TAIL_CHARS]
    if stated is not None:
        line = stated.split("\n", 1)[0].split(". ", 1)[0]
        number = plain_number(line)
        if number is not None:
            value, percent = number
            return "number", f"{value}{'%' if percent else ''}"
        if answer_number(line) is HEDGED:
            return "hedged", _stated_answer(stated, line)
        if from_hash:
            return "hash", gold_latex(tail)
        return "stated", _stated_answer(stated, line)
    return "text", completion


def _number_verdict(gold_text: str, text: str) -> float | None:
    """A plain-number answer against a plain-number gold: equal values (a percentage may
    equal the gold or the gold times 100: ``25%`` is right for ``25`` and for ``0.25``);
    None when the gold is not a plain number."""
    gold = plain_number(gold_text)
    if gold is None or gold[1]:
        return None
    value = Fraction(text.rstrip("%"))
    if text.endswith("%"):
        return 1.0 if gold[0] in (value, value / 100) else 0.0
    return 1.0 if gold[0] == value else 0.0


#: The last characters of a completion without ``\\boxed``/``####`` that math-verify reads.
TEXT_TAIL_CHARS = 5000
#: Extracted answers longer than this are keyed by a digest (they score 0 anyway).
MAX_KEY_CHARS = 1000


def _latex_config():
    from latex2sympy2_extended import NormalizationConfig
    from math_verify import LatexExtractionConfig

    return LatexExtractionConfig(
        normalization_config=NormalizationConfig(units=True),
        boxed_match_priority=0,
        try_extract_without_anchor=False,
    )


def _text_config():
    from math_verify import LatexExtractionConfig

    return LatexExtractionConfig(boxed_match_priority=0)


def _expr_config():
    """math-verify's expression extraction, anchored only (``answer: ... = 34``, "final
    answer is 34"): it reads numbers, and hands ``sympy.parse_expr`` nothing but digits,
    operators, brackets and blanks (its pattern has no letters)."""
    from math_verify import ExprExtractionConfig

    return ExprExtractionConfig(try_extract_without_anchor=False)


def _parse(kind: str, text: str) -> list:
    """math-verify's LaTeX parse with its own timeout off. A whole completion is read with
    anchored extraction; a run of boxes, and an answer that carries its own ``$``/``\\(``
    delimiters, as text the way math-verify reads a prediction; any other answer wrapped in
    ``\\boxed{}``, trying two configurations. math-verify's ``ExprExtractionConfig`` is never
    used: it hands the text to ``sympy.parse_expr``, which is Python ``eval``."""
    from math_verify import LatexExtractionConfig, parse

    if kind == "text":
        return parse(
            text, [_latex_config()], extraction_mode="first_match", parsing_timeout=None
        )
    if kind == "boxes" or _has_math_delimiters(text):
        found = parse(text, [_text_config(), _expr_config()], parsing_timeout=None)
        if found or kind == "boxes":
            return found
    wrapped = f"$\\boxed{{{text}}}$"
    found: list = []
    for config in ([LatexExtractionConfig()], [_latex_config()]):
        found = parse(wrapped, config, parsing_timeout=None) or found
        if found and not isinstance(found[0], str):
            break
    return found


#: Exponents above this are not evaluated by the exact guard (2^{2^{99}} would never finish).
MAX_EXPONENT = 4096


def exact_rational(expr: Any) -> Any:
    """``expr`` as an exact sympy Rational when it is one (``1/2^{99}``), else None."""
    from sympy import Basic, Pow

    if not isinstance(expr, Basic) or expr.free_symbols or not expr.is_number:
        return None
    if expr.is_Rational:
        return expr
    if expr.is_rational is not True:
        return None
    for power in expr.atoms(Pow):
        if power.exp.is_Number and abs(power.exp) > MAX_EXPONENT:
            return None
    value = expr.doit()
    return value if value.is_Rational else None


def _exact_guard(gold: list, pred: list, pred_text: str) -> bool | None:
    """False when both sides are numbers that differ exactly; None when it does not apply."""
    from sympy import Float

    if "%" in pred_text:  # math-verify's percentage rule (50\% == 0.5) stays in force
        return None
    g, p = exact_rational(gold[0]), exact_rational(pred[0])
    if g is not None and p is not None:
        return bool(g == p)
    floats = [x for x in (gold[0], pred[0]) if isinstance(x, Float)]
    exact = g if g is not None else p
    if len(floats) == 1 and exact is not None:
        a, b = float(floats[0]), float(exact)
        return abs(a - b) <= 1e-6 * max(abs(a), abs(b))
    return None


_INTEGER = re.compile(r"\s*-?\d+\s*")
_SPELLING = re.compile(r"\s+|\\left|\\right|\\!|\\,|\\;|\$")


def _fast_verdict(gold: str, pred: str) -> float | None:
    """1.0 for the same answer up to spelling (spaces, ``\\left``, ``\\dfrac``), an exact
    verdict for two integers, None when sympy has to decide."""
    if _INTEGER.fullmatch(gold) and _INTEGER.fullmatch(pred):
        return 1.0 if int(gold) == int(pred) else 0.0
    a = _SPELLING.sub("", gold).replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    b = _SPELLING.sub("", pred).replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    return 1.0 if a and a.rstrip(".") == b.rstrip(".") else None


#: Points (positive, away from common poles) at which two expressions are compared.
_PROBES = (0.7311, 1.3717, 1.9123)


def numerically_different(gold: Any, pred: Any) -> bool:
    """True when two plain expressions differ at a positive probe point: not equal, so the
    slow symbolic comparison can be skipped. Sets, tuples, matrices, relations, and anything
    that does not evaluate to a finite number are left to math-verify (False).
    """
    from sympy import Expr, Float

    if not (isinstance(gold, Expr) and isinstance(pred, Expr)):
        return False
    if gold.free_symbols != pred.free_symbols:  # ``odd`` against \\text{odd}: verify decides
        return False
    symbols = sorted(gold.free_symbols, key=str)
    if len(symbols) > len(_PROBES):
        return False
    subs = {s: Float(v) for s, v in zip(symbols, _PROBES, strict=False)}
    try:
        a = complex(gold.evalf(30, subs=subs))
        b = complex(pred.evalf(30, subs=subs))
    except (TypeError, ValueError, ArithmeticError, AttributeError, RecursionError):
        return False
    if not all(map(math.isfinite, (a.real, a.imag, b.real, b.imag))):
        return False
    return abs(a - b) > 1e-4 * max(1.0, abs(a), abs(b))


def subset_verdict(gold: str, pred: str) -> float | None:
    """A verdict without math-verify when both answers lie in ``latex_subset``'s subset and
    the answer is clear: exact rationals compared exactly, numbers equal to 20 digits or
    different by more than 1e-4 (relative), expressions that differ at a probe point.
    None (ask math-verify) otherwise, e.g. ``0.333333`` against ``1/3``.
    """
    from gamermath.rewards.latex_subset import to_sympy

    g = to_sympy(gold)
    p = to_sympy(gold_latex(pred))
    if g is None or p is None:
        return None
    if g.free_symbols or p.free_symbols:
        return 0.0 if numerically_different(g, p) else None
    if g.is_Rational and p.is_Rational:
        return 1.0 if g == p else 0.0
    try:
        a, b = complex(g.evalf(30)), complex(p.evalf(30))
    except (TypeError, ValueError, ArithmeticError):
        return None
    if not all(map(math.isfinite, (a.real, a.imag, b.real, b.imag))):
        return None
    diff, scale = abs(a - b), max(abs(a), abs(b))
    if diff <= 1e-20 * scale:
        return 1.0
    if diff > 1e-4 * scale:
        return 0.0
    return None


def resolve_kind(kind: str, text: str, gold_text: str) -> str:
    """The kind to score: a hedge (two plain numbers, or two different boxes side by side)
    is ``hedged`` against a plain-number gold; against any other gold (a tuple, a set,
    ``-2,1``) it is read as the answer it states."""
    from gamermath.rewards.answers import hedged_boxes

    if kind == "hedged":
        return kind if plain_number(gold_text) is not None else "stated"
    if kind == "boxes" and plain_number(gold_text) is not None and hedged_boxes(text):
        return "hedged"
    return kind


def quick_verdict(kind: str, text: str, gold_text: str) -> float | None:
    """The verdicts that need neither sympy nor math-verify: a hedge, an unclosed box, two
    plain numbers, an answer the guards refuse, two integers, the same answer up to
    spelling; else None."""
    kind = resolve_kind(kind, text, gold_text)
    if kind in ("hedged", "unclosed"):
        return 0.0
    if kind == "number":
        verdict = _number_verdict(gold_text, text)
        if verdict is not None:
            return verdict
        kind, text = "hash", text.replace("%", "\\%")
    as_text = kind in ("text", "boxes") or _has_math_delimiters(text)
    gold_limit = None if _has_math_delimiters(gold_text) else MAX_ANSWER_CHARS
    if unsafe_reason(gold_text, gold_limit) or unsafe_reason(
        text, None if as_text else MAX_ANSWER_CHARS
    ):
        return 0.0
    if kind in ("boxed", "hash", "stated"):
        return _fast_verdict(gold_text, gold_latex(text))
    return None


def _parse_gold(gold_text: str) -> list:
    """A gold with its own delimiters or boxes (``$x >= 5$``) is read as math-verify reads
    a gold; any other gold as a boxed answer."""
    if _has_math_delimiters(gold_text):
        return _parse("boxes", gold_text)
    return _parse("boxed", gold_text)


def score(completion: str, columns: Mapping[str, Any], options: Mapping[str, Any]) -> float:
    """1.0 if math-verify finds the prediction equal to the gold (with the exact guard)."""
    from math_verify import verify

    from gamermath.rewards.worker import quiet_math_verify

    quiet_math_verify()
    gold_text = gold_latex(columns["answer"])
    kind, text = prediction_part(completion)
    if kind == "text":
        text = text[-TEXT_TAIL_CHARS:]
    quick = quick_verdict(kind, text, gold_text)
    if quick is not None:
        return quick
    kind = resolve_kind(kind, text, gold_text)
    if kind == "number":
        kind, text = "hash", text.replace("%", "\\%")
    if kind in ("boxed", "hash", "stated") and options["exact_numbers"]:
        verdict = subset_verdict(gold_text, text)
        if verdict is not None:
            return verdict
    gold = _parse_gold(gold_text)
    pred = _parse(kind, text)
    if not gold or not pred:
        return 0.0
    if "%" not in text and "%" not in gold_text and numerically_different(gold[0], pred[0]):
        return 0.0
    if not verify(gold, pred, timeout_seconds=None):
        return 0.0
    if options["exact_numbers"] and _exact_guard(gold, pred, text) is False:
        return 0.0
    return 1.0


def cache_key(completion: str, columns: Mapping[str, Any], options: Mapping[str, Any]) -> Hashable:
    """``(kind, answer, gold)``: the extracted answer and gold; a completion without an
    answer marker, and an answer or gold over ``MAX_KEY_CHARS``, appear as ``("digest", hex)``
    of the text the score reads."""
    from gamermath.rewards.cache import text_digest

    kind, text = prediction_part(completion)
    if kind == "text":
        text = completion[-TEXT_TAIL_CHARS:]
    gold = gold_latex(columns["answer"])
    answer: Any = text
    if kind == "text" or len(text) > MAX_KEY_CHARS:
        answer = ("digest", text_digest(text, {}))
    return kind, answer, gold if len(gold) <= MAX_KEY_CHARS else ("digest", text_digest(gold, {}))


def key_verdict(key: Any, options: Mapping[str, Any]) -> float | None:
    """``quick_verdict`` from a cache key, in the trainer's process (string work on at most
    ``MAX_KEY_CHARS`` characters); None for digests and for answers sympy must decide."""
    kind, answer, gold = key
    if isinstance(answer, tuple) or isinstance(gold, tuple):
        return None
    return quick_verdict(kind, answer, gold)


@hookimpl
def register_rewards(register):
    register(
        Reward(
            name="sympy-equivalence",
            score=score,
            description="1 if math-verify finds the boxed/#### answer equal to the gold (LaTeX)",
            columns=("answer",),
            output_range=(0.0, 1.0),
            options={"exact_numbers": True},
            timeout=5.0,
            cache_key=cache_key,
        )
    )
