"""Build ``labelled.jsonl``, the set ``gmr reward audit`` measures rewards on.

Every row is labelled by construction, never by a reward or a verifier: a row takes a real
gold answer from GSM8K (test split) or MATH-500 and writes a completion whose final answer is
either the gold rewritten by a transformation that keeps its value (label 1: thousands
separators, ``\\dfrac``, decimals of terminating fractions, reordered sums, dropped degree
signs, units, ``x = `` before the value, unreduced fractions, roots moved inside,
policy styles such as ``####``, ``\\boxed{}``, think tags, a corrected earlier
answer) or a different answer (label 0: off by one, negated, reciprocal, swapped tuples,
``\\pm``, a value off by ``2^{-99}``, a hedge between two boxes or numbers, an empty box, an
answer given without any answer marker). A few rows use synthetic golds: ``1/2^{k}`` against
``1/2^{k+1}``.

Source ``math500-written`` (``written_rows``) was added from outside the reward's own fixes:
every other MATH-500 answer stated without a box, after "the answer is", in the forms
models write (``\\frac 34``, tuples and intervals with other spacing, a unit after an
integer, else verbatim); label 1 for the gold so written, label 0 for another problem's
gold of a different value, or an integer gold plus one.

The label rule: 1 exactly when the completion's *marked* final answer (the last
``\\boxed{}``, else the text after the last ``####``, else after "the answer is") has the
gold's value; a completion that hedges between two different answers, or gives none, is 0.

Usage (deterministic; the shipped file was written with the defaults)::

    python -m gamermath.rewards.audit.build --data-dir ../shared/data \\
        --output src/gamermath/rewards/audit/labelled.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

#: GSM8K test problems used (of 1,319); MATH-500 uses all 500.
GSM8K_PROBLEMS = 300
SEED = 13

_INT = re.compile(r"-?\d+")
_SIMPLE_FRAC = re.compile(r"(-?)\\[dt]?frac\{(\d+)\}\{(\d+)\}")
_DEGREES = re.compile(r"(\d+)\^\\circ")
_ROOT = re.compile(r"(\d+)\s*\\sqrt\{(\d+)\}")
_ANNOTATION = re.compile(r"<<[^<>]*>>")
_ASKS_PERCENT = re.compile(r"what (?:\w+ ){0,3}percent(?:age)?\b", re.IGNORECASE)
_NAMES = ("Evelyn", "Navin", "Alice", "Bob")

Row = dict[str, object]


def _row(source: str, index: int, kind: str, gold: str, completion: str, label: int) -> Row:
    return {
        "id": f"{source}-{index}-{kind}",
        "source": source,
        "kind": kind,
        "answer": gold,
        "completion": completion,
        "label": label,
    }


# -- GSM8K ---------------------------------------------------------------------------------


def _with_commas(n: int) -> str:
    return f"{n:,}"


def gsm8k_rows(problems: list[dict], rng: random.Random) -> Iterator[Row]:
    """Four rows per problem: a ``####`` answer, one other right style, two wrong ones."""
    for index, problem in enumerate(problems):
        reasoning, written = problem["answer"].rsplit("####", 1)
        written = written.strip()
        n = int(written.replace(",", ""))
        steps = _ANNOTATION.sub("", reasoning).strip()[:160]
        percent = bool(_ASKS_PERCENT.search(problem["question"]))
        wrong = n + rng.choice([-10, -2, -1, 1, 1, 2, 3, 5]) or n + 1

        def row(kind: str, completion: str, label: int, _i: int = index, _g: str = written) -> Row:
            return _row("gsm8k", _i, kind, _g, completion, label)

        yield row("hash", f"{steps}\n#### {n}", 1)
        right: list[tuple[str, str]] = [
            ("hash-commas", f"{steps}\n#### {_with_commas(n)}") if abs(n) >= 1000
            else ("hash-decimal", f"{steps}\n#### {n}.00"),
            ("boxed", f"{steps}\nThe final answer is $\\boxed{{{n}}}$."),
            ("boxed-dollar", f"{steps}\nSo she has $\\boxed{{\\${_with_commas(n)}}}$."),
            ("answer-is", f"{steps}\nTherefore, the answer is {n}."),
            ("paper", f"{steps}\n#### The final answer is {n}"),
            ("think", f"<think>{steps}</think>\n#### {n}"),
            ("empty-think", f"<think></think>\\boxed{{{n}}}"),
            ("units", f"{steps}\n#### {n} dollars"),
            ("self-correction",
             f"{steps}\nSo the answer is $\\boxed{{{wrong}}}$. Wait, I made an arithmetic "
             f"slip above; redoing the last step carefully gives $\\boxed{{{n}}}$."),
            ("repeated-box", f"{steps} = \\boxed{{{n}}}\nFinal answer: \\boxed{{{n}}}"),
        ]
        if percent:
            right.append(("percent", f"{steps}\n#### {n}%"))
        if n < 0:
            right.append(("unicode-minus", f"{steps}\n#### \u2212{abs(n)}"))
        kind, text = right[index % len(right)] if not percent else right[-1]
        yield row(kind, text, 1)
        wrongs: list[tuple[str, str]] = [
            ("wrong-hash", f"{steps}\n#### {wrong}"),
            ("wrong-boxed", f"{steps}\nThe final answer is $\\boxed{{{wrong}}}$."),
            ("hedged-boxes", f"{steps}\nThe answer is $\\boxed{{{wrong}}}$ or $\\boxed{{{n}}}$."),
            ("hedged-boxes", f"{steps}\nIt is \\boxed{{{n}}}, \\boxed{{{wrong}}}"),
            ("hedged-hash", f"{steps}\n#### {wrong} or {n}"),
            ("empty-box", f"{steps}\nThe final answer is $\\boxed{{}}$."),
            ("unmarked", f"{steps}\nSo in total it comes to {n}."),
            ("pm", f"{steps}\nThe final answer is $\\boxed{{\\pm {abs(n) or 1}}}$."),
            ("wrong-think", f"<think>{steps}</think>\n#### {wrong}"),
            ("wrong-answer-is", f"{steps}\nThe answer is {wrong * 10 if wrong else 7}."),
        ]
        for k in (0, 1):
            kind, text = wrongs[(2 * index + k) % len(wrongs)]
            yield row(kind, text, 0)


# -- MATH-500 ------------------------------------------------------------------------------


def _is_int(gold: str) -> bool:
    return bool(_INT.fullmatch(gold))


def _scalar(gold: str) -> bool:
    """No tuple, set, interval, equation, text, matrix or \\pm: ``-g`` and ``g+1`` make sense."""
    bad = (",", "=", "\\text", "\\mbox", "pmatrix", "\\pm", "\\in", "\\cup", "\\circ", "_", "[",
           "\\{")
    return not any(mark in gold for mark in bad) and "\\infty" not in gold


def _split_sum(gold: str) -> tuple[str, str] | None:
    """``A+B`` at the top level (outside braces and brackets) with a non-negative ``A``."""
    depth = 0
    for i, char in enumerate(gold):
        if char in "{([":
            depth += 1
        elif char in "})]":
            depth -= 1
        elif char == "+" and depth == 0 and i > 0:
            left, right = gold[:i].strip(), gold[i + 1 :].strip()
            if left and right and "+" not in right and "-" not in right[1:] and "-" not in left:
                return left, right
    return None


def _terminating(fraction: Fraction) -> str | None:
    d = fraction.denominator
    for p in (2, 5):
        while d % p == 0:
            d //= p
    if d != 1:
        return None
    text = f"{float(fraction):.12f}".rstrip("0").rstrip(".")
    return text if Fraction(text) == fraction else None


def _equivalents(gold: str) -> list[tuple[str, str]]:
    """(kind, LaTeX) rewritings of ``gold`` that keep its value."""
    out: list[tuple[str, str]] = []
    simple = _SIMPLE_FRAC.fullmatch(gold)
    if "\\frac" in gold:
        out.append(("dfrac", gold.replace("\\frac", "\\dfrac")))
    if simple:
        sign, a, b = simple.groups()
        out.append(("slash", f"{sign}{a}/{b}"))
        out.append(("unreduced", f"{sign}\\frac{{{2 * int(a)}}}{{{2 * int(b)}}}"))
        out.append(("variable", f"x = {gold}"))
        decimal = _terminating(Fraction(int(a), int(b)))
        if decimal:
            out.append(("decimal", f"{sign}{decimal}"))
    if _is_int(gold):
        n = int(gold)
        out.append(("decimal-zeros", f"{n}.0"))
        if abs(n) >= 1000:
            out.append(("thousands", f"{n:,}".replace(",", "{,}")))
        out.append(("units", f"{n} \\text{{ cm}}"))
        out.append(("variable", f"x = {n}"))
        out.append(("scaled-2^99", f"\\frac{{{n} \\cdot 2^{{99}}}}{{2^{{99}}}}"))
    root = _ROOT.fullmatch(gold)
    if root:
        k, m = int(root.group(1)), int(root.group(2))
        out.append(("root-expanded", f"\\sqrt{{{k * k * m}}}"))
    degrees = _DEGREES.fullmatch(gold)
    if degrees:
        out.append(("degrees-dropped", degrees.group(1)))
        out.append(("degrees-unicode", f"{degrees.group(1)}\u00b0"))
    pair = _split_sum(gold)
    if pair and _scalar(gold):
        out.append(("commuted", f"{pair[1]} + {pair[0]}"))
    if " " in gold:
        out.append(("spacing", gold.replace(" ", "")))
    elif "," in gold:
        out.append(("spacing", gold.replace(",", ", ")))
    return out


def _wrongs(gold: str, others: list[str]) -> list[tuple[str, str]]:
    """(kind, LaTeX) answers whose value differs from ``gold``."""
    out: list[tuple[str, str]] = []
    simple = _SIMPLE_FRAC.fullmatch(gold)
    if _is_int(gold):
        n = int(gold)
        out += [("plus-one", str(n + 1)), ("near-2^99", f"{n} + \\frac{{1}}{{2^{{99}}}}")]
        if n != 0:
            out += [("negated", str(-n)), ("times-ten", str(10 * n)), ("pm", f"\\pm {abs(n)}")]
    elif simple:
        sign, a, b = simple.groups()
        out.append(("numerator-plus-one", f"{sign}\\frac{{{int(a) + 1}}}{{{b}}}"))
        if a != b:
            out.append(("reciprocal", f"{sign}\\frac{{{b}}}{{{a}}}"))
        out.append(("negated", f"\\frac{{{a}}}{{{b}}}" if sign else f"-\\frac{{{a}}}{{{b}}}"))
        out.append(("near-2^99", f"{gold} + \\frac{{1}}{{2^{{99}}}}"))
    root = _ROOT.fullmatch(gold)
    if root:
        out.append(("root-off", f"{root.group(1)}\\sqrt{{{int(root.group(2)) + 1}}}"))
    degrees = _DEGREES.fullmatch(gold)
    if degrees:
        out.append(("degrees-off", f"{int(degrees.group(1)) + 1}^\\circ"))
    tuple_match = re.fullmatch(r"\((-?[^,()]+),\s*(-?[^,()]+)\)", gold)
    if tuple_match and tuple_match.group(1).strip() != tuple_match.group(2).strip():
        out.append(("tuple-swapped", f"({tuple_match.group(2).strip()}, "
                                     f"{tuple_match.group(1).strip()})"))
    if re.fullmatch(r"\[.*\)|\(.*\]", gold):
        flipped = {"[": "(", "(": "[", "]": ")", ")": "]"}
        out.append(("interval-closure", flipped[gold[0]] + gold[1:-1] + flipped[gold[-1]]))
    choice = re.fullmatch(r"\\text\{\(([A-E])\)\}", gold)
    if choice:
        letter = "ABCDE"[("ABCDE".index(choice.group(1)) + 1) % 5]
        out.append(("choice-off", f"\\text{{({letter})}}"))
    name = re.fullmatch(r"\\text\{([A-Z][a-z]+)\}", gold)
    if name:
        other = next(n for n in _NAMES if n != name.group(1))
        out.append(("name-off", f"\\text{{{other}}}"))
    if not out and _scalar(gold):
        out += [("plus-one", f"{gold}+1"), ("bench-wrong", f"2\\cdot\\left({gold}\\right)+1")]
    if not out:  # anything else: another problem's gold that is written differently
        other = next(o for o in others if o.replace(" ", "") != gold.replace(" ", ""))
        out.append(("other-gold", other))
    if "\\pm" in gold:
        out.append(("pm-one-value", gold.replace("\\pm", "+", 1)))
    return out


#: How a MATH-style completion states its answer ``{a}`` after reasoning ``{steps}``.
MATH_STYLES: dict[str, str] = {
    "": "{steps}\n\nThe final answer is $\\boxed{{{a}}}$.",
    "empty-think": "<think></think>\\boxed{{{a}}}",
    "think": "<think>{steps}</think>\nSo the answer is $\\boxed{{{a}}}$.",
    "repeated-box": "We get $\\boxed{{{a}}}$.\n\nFinal answer: $\\boxed{{{a}}}$",
    "self-correction": "{steps}\nThis gives $\\boxed{{{wrong}}}$. Wait, that drops a term. "
    "Correcting it, the answer is $\\boxed{{{a}}}$.",
    "hash": "{steps}\n#### {a}",
    "hedged-boxes": "{steps}\n\nThe answer is $\\boxed{{{a}}}$ or $\\boxed{{{wrong}}}$.",
    "empty-box": "{steps}\n\nThe final answer is $\\boxed{{}}$.",
    "letter": "<think></think>a",
}
_ROTATED = ("", "empty-think", "think", "repeated-box", "self-correction")


def math_rows(problems: list[dict]) -> Iterator[Row]:
    """Four rows per problem: the gold boxed, one rewriting that keeps its value, and two
    different answers, in policy styles."""
    golds = [p["answer"].strip() for p in problems]
    for index, problem in enumerate(problems):
        gold = golds[index]
        steps = problem["solution"].replace("\\boxed", "").strip()[-160:]
        wrongs = _wrongs(gold, golds[index + 1 :] + golds[:index])

        def row(kind: str, style: str, answer: str, label: int, wrong: str = wrongs[0][1],
                _i: int = index, _g: str = gold, _s: str = steps) -> Row:
            text = MATH_STYLES[style].format(steps=_s, a=answer, wrong=wrong)
            return _row("math500", _i, "+".join(k for k in (kind, style) if k), _g, text, label)

        yield row("boxed", "", gold, 1)
        equivalents = _equivalents(gold)
        if _is_int(gold) and index % 5 == 0:
            yield row("", "hash", gold, 1)
        elif equivalents:
            kind, text = equivalents[index % len(equivalents)]
            yield row(kind, _ROTATED[(index // 3) % len(_ROTATED)], text, 1)
        else:
            yield row("same", _ROTATED[1 + index % (len(_ROTATED) - 1)], gold, 1)
        first = wrongs[index % len(wrongs)]
        yield row(first[0], "" if index % 2 else "think", first[1], 0)
        second = wrongs[(index + 1) % len(wrongs)]
        if index % 8 in (0, 1) or second == first:
            hedge = (gold, wrongs[0][1]) if index % 2 else (wrongs[0][1], gold)
            yield row("", "hedged-boxes", hedge[0], 0, wrong=hedge[1])
        elif index % 16 in (2, 10):
            yield row("", "empty-box" if index % 16 == 2 else "letter", "", 0)
        else:
            yield row(second[0], "" if index % 2 else "think", second[1], 0)


_SHORT_FRAC = re.compile(r"\\[dt]?frac\{(\d)\}\{(\d)\}")


def _written_form(gold: str) -> tuple[str, str]:
    """(kind, LaTeX) of the gold as models write it outside a box: ``\\frac 34``, a tuple or
    interval with other spacing, an integer with a unit; else verbatim."""
    if _SHORT_FRAC.search(gold):
        return "frac-short", _SHORT_FRAC.sub(r"\\frac \1\2", gold)
    if gold[:1] in "([" and "," in gold:
        spaced = gold.replace(", ", ",") if ", " in gold else gold.replace(",", ", ")
        return "tuple-spacing", spaced
    if _is_int(gold):
        return "units", f"{gold}\\text{{ units}}"
    return "verbatim", gold


def _value_key(latex: str) -> str:
    """What two golds must differ in to be different answers (their value when simple)."""
    from gamermath.rewards.latex_subset import to_sympy

    value = to_sympy(latex)
    return str(value) if value is not None else "".join(latex.split())


#: How a model states an answer without a box (the label rule reads "the answer is").
WRITTEN_STYLES = ("So the answer is ${a}$.", "The answer is ${a}$.", "The answer is: ${a}$")


def written_rows(problems: list[dict]) -> Iterator[Row]:
    """Two rows for every other MATH-500 problem, its answer stated after "the answer is" in
    the forms models write (``written_form``): label 1 for the gold so written, label 0 for
    another problem's gold (a different value) or, for an integer, the gold plus one."""
    golds = [p["answer"].strip() for p in problems]
    for index in range(0, len(problems), 2):
        gold = golds[index]
        steps = problems[index]["solution"].replace("\\boxed", "").strip()[-160:]
        style = WRITTEN_STYLES[(index // 2) % len(WRITTEN_STYLES)]
        kind, written = _written_form(gold)
        yield _row("math500-written", index, kind, gold,
                   f"{steps}\n\n" + style.format(a=written), 1)
        if _is_int(gold):
            wrong_kind, wrong = "plus-one", str(int(gold) + 1)
        else:
            key = _value_key(gold)
            wrong_kind = "other-gold"
            wrong = next(o for o in golds[index + 1 :] + golds[:index] if _value_key(o) != key)
        yield _row("math500-written", index, f"wrong-{wrong_kind}", gold,
                   f"{steps}\n\n" + style.format(a=_written_form(wrong)[1]), 0)


def synthetic_rows() -> Iterator[Row]:
    """``1/2^{k}`` against ``1/2^{k+1}`` (math-verify's 6-digit rounding calls them equal)."""
    for k in range(60, 100, 4):
        gold = f"\\frac{{1}}{{2^{{{k}}}}}"
        yield _row("synthetic", k, "2^-k-off-by-one", gold,
                   f"The final answer is $\\boxed{{\\frac{{1}}{{2^{{{k + 1}}}}}}}$.", 0)
        yield _row("synthetic", k, "2^-k-same", gold,
                   f"The final answer is $\\boxed{{2^{{-{k}}}}}$.", 1)


def build(data_dir: Path, gsm8k_problems: int = GSM8K_PROBLEMS, seed: int = SEED) -> list[Row]:
    """All rows, in a fixed order."""
    rng = random.Random(seed)
    gsm = [json.loads(line) for line in (data_dir / "gsm8k" / "test.jsonl").open()]
    math = [json.loads(line) for line in (data_dir / "math500" / "test.jsonl").open()]
    # every problem that asks for a percentage (17 of 1,319), the rest drawn at random
    asks = [p for p in gsm if _ASKS_PERCENT.search(p["question"])]
    rest = [p for p in gsm if not _ASKS_PERCENT.search(p["question"])]
    picked = asks + rng.sample(rest, gsm8k_problems - len(asks))
    rows = list(gsm8k_rows(picked, rng))
    rows += list(math_rows(math))
    rows += list(synthetic_rows())
    rows += list(written_rows(math))
    ids = [r["id"] for r in rows]
    counts: dict[object, int] = {}
    for row, key in zip(rows, ids, strict=True):
        counts[key] = counts.get(key, 0) + 1
        if counts[key] > 1:
            row["id"] = f"{key}-{counts[key]}"
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("labelled.jsonl"))
    args = parser.parse_args(argv)
    rows = build(args.data_dir)
    with args.output.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    positives = sum(int(r["label"]) for r in rows)
    print(f"{len(rows)} rows ({positives} equivalent, {len(rows) - positives} not) -> "
          f"{args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
