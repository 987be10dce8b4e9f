"""Final-answer extraction and numeric comparison for GSM8K-style answers.

Used by the ``exact-answer`` reward, the engine's held-out accuracy and evaluation, all in
the trainer's own process (cache keys), so everything here is linear-time and length-capped:
only the last ``MAX_TEXT_CHARS`` of a completion and the first ``MAX_FRAGMENT_CHARS`` of an
answer fragment are read, and no regular expression can backtrack quadratically (a test
feeds megabyte-long pathological strings). Nothing here raises on odd input.

Where the final answer is, in priority order:

1. the first number after the **last** ``####`` marker (GSM8K's own format, and the
   paper's ``#### The final answer is 42``);
2. else the last ``\\boxed{...}`` (or ``\\fbox{...}``);
3. else the first number after the last "the answer is" (case-insensitive);
4. else, only when ``last_number_fallback=True``, the last number in the text. This is off
   by default: for training it rewards rambling that happens to end on the right number.

A *hedged* answer is no answer: two different numbers joined by "or", "and", ",", "/" or
";" where the answer is read (``#### 17 or 18``), a number after ``\\pm`` (two values), or
the last box right after another box
with a different content (``\\boxed{17} or \\boxed{18}``, ``$\\boxed{17}$, $\\boxed{18}$``).
A box repeated with the same content, or an earlier box corrected later in the text, is not
a hedge.

Normalisation: thousands separators (``1,080``, ``1{,}080``, ``1\\,080``), ``$`` and ``\\$``,
``%``, a trailing period, unit words after the number, Unicode minus signs, LaTeX
``\\frac{a}{b}``/``a/b`` fractions; comparison is exact on rationals, so ``18.00 == 18``.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction

#: Longest digit string treated as a number (Python refuses int() of > 4300 digits).
MAX_DIGITS = 200
#: Only the last this many characters of a completion are searched for its final answer
#: (a 4,096-token completion is about 16,000 characters).
MAX_TEXT_CHARS = 50_000
#: Only the first this many characters of an answer fragment (after leading blanks) are read.
MAX_FRAGMENT_CHARS = 1_000
#: Longest ``\boxed{...}`` content read; a longer or unclosed box is no answer.
MAX_BOXED_CHARS = 10_000

_MINUS = "-\u2212\u2012\u2013\u2014\ufe63\uff0d"
# Every match starts with a digit or ".digit" (after an optional sign and "$"), so the
# optional parts never scan the same blanks from many start positions; possessive
# quantifiers (``*+``) never give back what they matched.
_NUMBER = re.compile(
    rf"(?:(?<![\w)\]}}])(?P<sign>[{_MINUS}]))?(?:\$[ \t]*+(?P<sign2>[{_MINUS}])?)?"
    r"(?:(?P<int>\d{1,3}(?:,\d{3})++|\d++)(?P<frac>\.\d++)?|(?P<frac2>\.\d++))"
    r"(?:[ \t]*+/[ \t]*+(?P<den>\d++(?:\.\d++)?))?"
)
_LATEX_FRAC = re.compile(r"\\[dt]?frac\s*+\{([^{}]*+)\}\s*+\{([^{}]*+)\}")
_LATEX_FRAC_SHORT = re.compile(r"\\[dt]?frac\s*+(\d)\s*+(\d)")
_TEXT_CMD = re.compile(r"\\(?:text|textbf|mathrm|mbox|operatorname)\s*+\{([^{}]*+)\}")
_ANSWER_IS = re.compile(r"answer\s++is\s*+[:=]?", re.IGNORECASE)
_BRACE = re.compile(r"[{}]")
# After an answer's first number: a connective, then another number (a hedge).
_HEDGE_AFTER = re.compile(
    rf"[ \t]*+(?:or|and|,|/|;)[ \t]*+(?:(?:maybe|possibly|perhaps)[ \t]++)?"
    rf"(?:\$[ \t]*+)?(?=[{_MINUS}]?\d)",
    re.IGNORECASE,
)
# What may lie between two boxes that hedge: blanks, "$", brackets, a connective.
_HEDGE_GAP = re.compile(
    r"[\s$(),;/.]*+(?:(?:or|and)(?:\s++(?:maybe|possibly|perhaps))?+)?+[\s$(),;/]*+",
    re.IGNORECASE,
)
_PLUS_MINUS = ("\\pm", "\\mp", "\u00b1", "\u2213", "+-", "+/-")
#: Longest text between two boxes that can still make a hedge.
MAX_HEDGE_GAP = 40


def _clean_latex(fragment: str) -> str:
    """Strip the LaTeX that wraps numbers in answers: ``\\$``, ``{,}``, ``\\,``, ``\\text``."""
    s = fragment.replace("{,}", ",").replace("\\!", "").replace("\\,", ",")
    s = s.replace("\\$", "$").replace("\\%", "%").replace("\\left", "").replace("\\right", "")
    s = _TEXT_CMD.sub(r" \1 ", s)
    s = _LATEX_FRAC.sub(r"(\1)/(\2)", s)
    s = _LATEX_FRAC_SHORT.sub(r"\1/\2", s)
    s = s.replace("\\dfrac", "").replace("\\frac", "")
    return s.replace("{", "").replace("}", "").replace("(", "").replace(")", "")


def _to_fraction(int_part: str | None, frac_part: str | None) -> Fraction | None:
    digits = (int_part or "").replace(",", "") + (frac_part or "")
    if not digits.strip(".") or len(digits) > MAX_DIGITS:
        return None
    try:
        return Fraction(Decimal(digits or "0"))
    except (InvalidOperation, ValueError, ZeroDivisionError):
        return None


def _parse_match(match: re.Match[str]) -> Fraction | None:
    value = _to_fraction(match.group("int"), match.group("frac") or match.group("frac2"))
    if value is None:
        return None
    den = match.group("den")
    if den:
        denominator = _to_fraction(den, None)
        if denominator:
            value = value / denominator
    return -value if (match.group("sign") or match.group("sign2")) else value


def first_number(fragment: str) -> Fraction | None:
    """The first number in a short answer fragment, normalised (``$1,080.`` -> 1080).

    Reads the first ``MAX_FRAGMENT_CHARS`` characters after leading blanks.
    """
    found = _NUMBER.search(_clean_latex(fragment.lstrip()[:MAX_FRAGMENT_CHARS]))
    return _parse_match(found) if found else None


class _Hedged:
    """The answer names two different numbers: no answer."""


HEDGED = _Hedged()


def answer_number(fragment: str) -> Fraction | _Hedged | None:
    """The first number of an answer fragment; ``HEDGED`` when a connective and a different
    number follow it (``17 or 18``, ``17, 18``); None when there is no number."""
    cleaned = _clean_latex(fragment.lstrip()[:MAX_FRAGMENT_CHARS])
    found = _NUMBER.search(cleaned)
    if found is None:
        return None
    value = _parse_match(found)
    if cleaned[: found.start()].rstrip().endswith(_PLUS_MINUS):  # \pm 3: two values
        return HEDGED
    hedge = _HEDGE_AFTER.match(cleaned, found.end())
    if hedge is not None:
        other = _NUMBER.match(cleaned, hedge.end())
        if other is not None and _parse_match(other) != value:
            return HEDGED
    return value


def last_number(text: str) -> Fraction | None:
    """The last number in the last ``MAX_TEXT_CHARS`` characters of ``text``."""
    found = None
    for found in _NUMBER.finditer(_clean_latex(text[-MAX_TEXT_CHARS:])):  # noqa: B007
        pass
    return _parse_match(found) if found else None


def format_number(value: Fraction) -> str:
    """A canonical string: ``18``, ``-0.5``, ``1/3`` (exact; no float rounding)."""
    if value.denominator == 1:
        return str(value.numerator)
    d = value.denominator
    while d % 2 == 0:
        d //= 2
    while d % 5 == 0:
        d //= 5
    if d == 1:
        text = format(Decimal(value.numerator) / Decimal(value.denominator), "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    return f"{value.numerator}/{value.denominator}"


def _box_start(text: str, end: int) -> int:
    """Where the last ``\\boxed``/``\\fbox`` before ``end`` starts, or -1."""
    return max(text.rfind("\\boxed", 0, end), text.rfind("\\fbox", 0, end))


def _box_at(text: str, start: int, limit: int) -> tuple[str, int] | None:
    """The content of the box starting at ``start`` and the index after it, reading at most
    up to ``limit`` and ``MAX_BOXED_CHARS``; None if it is unclosed there."""
    begin = start + (6 if text.startswith("\\boxed", start) else 5)
    after = text[begin : min(limit, begin + MAX_BOXED_CHARS)]
    stripped = after.lstrip()
    offset = begin + len(after) - len(stripped)
    if not stripped.startswith("{"):  # ``\boxed 5``
        tokens = stripped[:MAX_FRAGMENT_CHARS].split("$", 1)[0].split()
        if not tokens:
            return None
        return tokens[0], offset + stripped.index(tokens[0]) + len(tokens[0])
    depth = 0
    for match in _BRACE.finditer(stripped):
        depth += 1 if match.group() == "{" else -1
        if depth == 0:
            return stripped[1 : match.start()], offset + match.end()
    return None


def last_boxed(text: str) -> str | None:
    """The content of the last ``\\boxed{...}`` or ``\\fbox{...}``, braces balanced.

    None when there is no box, or when it is unclosed within ``MAX_BOXED_CHARS``.
    """
    start = _box_start(text, len(text))
    if start < 0:
        return None
    found = _box_at(text, start, len(text))
    return found[0] if found else None


def hedged_boxes(text: str) -> bool:
    """Whether the last box directly follows another box with a different content (see the
    module docstring): ``\\boxed{3} or \\boxed{4}``."""
    last = _box_start(text, len(text))
    if last < 0:
        return False
    previous = _box_start(text, last)
    if previous < 0:
        return False
    found = _box_at(text, previous, last)
    mine = last_boxed(text)
    if found is None or mine is None:
        return False
    content, end = found
    gap = text[end:last]
    if len(gap) > MAX_HEDGE_GAP or not _HEDGE_GAP.fullmatch(gap):
        return False
    return "".join(content.split()) != "".join(mine.split())


# What may lie between two boxes of one list of answers: blanks, punctuation, "and"/"or",
# ``\quad``, math delimiters, a short ``\text{...}``, the next variable (``y_2 =``).
_RUN_GAP = re.compile(
    r"(?:\s|[$(),;.&]|\\[()\[\]]|\\q?quad|\\text\{[^{}]*\}|and|or"
    r"|[a-zA-Z](?:_\{?\w{1,3}\}?)?\s*+=)*+",
    re.IGNORECASE,
)
#: Most boxes read as one run of answers (``\\boxed{1}, \\boxed{2}, ...``).
MAX_RUN_BOXES = 20


def box_run(text: str) -> tuple[int, int] | None:
    """``(start, end)`` of the final run of two or more closed boxes, each within
    ``MAX_HEDGE_GAP`` characters of the next with only blanks, punctuation, "and"/"or",
    ``\\quad`` or a ``\\text{}`` between (at most ``MAX_RUN_BOXES``); None otherwise."""
    last = _box_start(text, len(text))
    found = _box_at(text, last, len(text)) if last >= 0 else None
    if found is None:
        return None
    first, count = last, 1
    while count < MAX_RUN_BOXES:
        previous = _box_start(text, first)
        box = _box_at(text, previous, first) if previous >= 0 else None
        if box is None or first - box[1] > MAX_HEDGE_GAP:
            break
        if not _RUN_GAP.fullmatch(text, box[1], first):
            break
        first, count = previous, count + 1
    return (first, found[1]) if count > 1 else None


def last_box_unclosed(text: str) -> bool:
    """Whether the text's last ``\\boxed{``/``\\fbox{`` never closes (within
    ``MAX_BOXED_CHARS``)."""
    last = _box_start(text, len(text))
    return last >= 0 and _box_at(text, last, len(text)) is None


def after_last_marker(text: str, marker: str = "####") -> str | None:
    """The text after the last ``marker`` up to the end of that line (at most
    ``MAX_FRAGMENT_CHARS`` characters after leading blanks), or None."""
    index = text.rfind(marker)
    if index < 0:
        return None
    end = text.find("\n", index)
    tail = text[index + len(marker) : end if end >= 0 else len(text)].lstrip(" \t")
    return tail[:MAX_FRAGMENT_CHARS]


def answer_is_end(text: str) -> int | None:
    """Where the text after the last "answer is" (case-insensitive) in the last
    ``MAX_TEXT_CHARS`` characters begins, or None."""
    last = None
    for last in _ANSWER_IS.finditer(text[-MAX_TEXT_CHARS:]):  # noqa: B007 (keeps the last)
        pass
    if last is None:
        return None
    return last.end() + max(0, len(text) - MAX_TEXT_CHARS)


def after_answer_is(text: str) -> str | None:
    """The text after the last "answer is" (case-insensitive) in the last
    ``MAX_TEXT_CHARS`` characters, up to 200 characters, or None."""
    start = answer_is_end(text)
    return None if start is None else text[start : start + 200]


def _final_value(text: str, last_number_fallback: bool) -> Fraction | None:
    if not isinstance(text, str) or not text:
        return None
    text = text[-MAX_TEXT_CHARS:]
    tail = after_last_marker(text)
    if tail is not None:
        value = answer_number(tail)
        if value is not None:
            return None if value is HEDGED else value
    boxed = last_boxed(text)
    if boxed is not None:
        value = None if hedged_boxes(text) else answer_number(boxed)
        if value is not None or hedged_boxes(text):
            return None if value is HEDGED else value
    stated = after_answer_is(text)
    if stated is not None:
        value = answer_number(stated)
        if value is not None:
            return None if value is HEDGED else value
    if last_number_fallback:
        return last_number(text)
    return None


def extract_final_number(text: str, last_number_fallback: bool = False) -> str | None:
    """The completion's final numeric answer as a canonical string, or None if none is given.

    See the module docstring for where it looks. ``"#### $1,080."`` -> ``"1080"``.
    """
    value = _final_value(text, last_number_fallback)
    return None if value is None else format_number(value)


def gold_number(gold: str) -> Fraction | None:
    """The number in a gold answer: a GSM8K answer field (``... #### 1,080``) or a bare one."""
    if not isinstance(gold, str):
        gold = str(gold)
    tail = after_last_marker(gold)
    return first_number(tail if tail is not None else gold)


def numbers_equal(pred: str | None, gold: str) -> bool:
    """Whether a predicted answer equals the gold numerically (``"18.00"`` == ``"#### 18"``).

    ``pred`` is an extracted answer (e.g. from ``extract_final_number``) or a short fragment
    such as ``"$1,080."``; ``gold`` may be a full GSM8K answer field.
    """
    if pred is None:
        return False
    expected = gold_number(gold)
    got = first_number(pred)
    return expected is not None and got is not None and got == expected
