"""Math-Verify's own test cases as a yardstick: ``math_verify_suite.jsonl``.

The file (harvested by ``gamermath.rewards.audit.harvest_math_verify``; its first line names
the upstream commit and licence) holds (gold, prediction, verdict, options) cases. A reward is
measured on them the way a policy writes a final answer, in two styles (``STYLES``): the
prediction in a box, and stated after "The answer is". Each case's gold goes to the reward
as its ``answer`` column; a *false positive* is full marks on a case whose verdict is 0.

Plain math-verify is measured in the same run on the same completions
(``verify(parse(gold), parse(completion))``, its default configurations), and, as the
upstream tests call it (``reproduce``), on the bare prediction with the case's options.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gamermath.errors import GmrError

SUITE = Path(__file__).with_name("math_verify_suite.jsonl")

#: How a policy writes the prediction ``P`` as its final answer.
STYLES: dict[str, Callable[[str], str]] = {
    "boxed": lambda pred: f"\\boxed{{{pred}}}",
    "answer-is": lambda pred: f"The answer is ${pred}$.",
}


def load_suite(path: Path | None = None, default_only: bool = False) -> list[dict[str, Any]]:
    """The suite's cases (the header line skipped); ``default_only``: the cases compared
    with ``verify``'s default options."""
    path = Path(path) if path is not None else SUITE
    if not path.is_file():
        raise GmrError(f"suite {path} does not exist")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise GmrError(f"{path}:{number}: not a JSON object") from None
        if "_source" in row:
            continue
        if not {"gold", "pred", "verdict", "category"} <= row.keys():
            raise GmrError(f"{path}:{number}: a case needs gold, pred, verdict, category")
        rows.append(row)
    return [r for r in rows if r.get("default", True)] if default_only else rows


def reproduce(case: Mapping[str, Any]) -> bool:
    """Plain math-verify's verdict as the upstream test computes it (its options)."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

    options = case["options"]
    if "helper" in options:  # verify(parse(gold), parse(pred))
        return bool(verify(parse(case["gold"]), parse(case["pred"])))
    targets = []
    for kind in options["match_types"]:
        targets.append(
            LatexExtractionConfig(boxed_match_priority=0) if kind == "latex"
            else ExprExtractionConfig()
        )
    return bool(verify(
        parse(case["gold"], targets), parse(case["pred"], targets),
        float_rounding=options["precision"], strict=options["strict"],
        allow_set_relation_comp=options["allow_set_relation_comp"],
    ))


def plain_math_verify(gold: str, completion: str) -> bool:
    """Plain math-verify on a written completion: default configurations and options."""
    from math_verify import parse, verify

    try:
        return bool(verify(parse(gold), parse(completion)))
    except Exception:  # math-verify raises on odd input: no verdict
        return False


@dataclass
class Agreement:
    """How often a scorer's verdict matches the suite's, per category."""

    name: str
    style: str
    agree: dict[str, int]
    total: dict[str, int]
    false_positives: list[str]

    @property
    def overall(self) -> float:
        return sum(self.agree.values()) / max(1, sum(self.total.values()))


def agreement(
    name: str, style: str, cases: Sequence[Mapping[str, Any]], positive: Sequence[bool]
) -> Agreement:
    """Tally a scorer's verdicts (``positive[i]`` for ``cases[i]``) against the suite's."""
    result = Agreement(name, style, {}, {}, [])
    for case, verdict in zip(cases, positive, strict=True):
        category = case["category"]
        result.total[category] = result.total.get(category, 0) + 1
        right = bool(verdict) == bool(case["verdict"])
        result.agree[category] = result.agree.get(category, 0) + right
        if verdict and not case["verdict"]:
            result.false_positives.append(case["id"])
    return result


def suite_table(runner: Any, reward: Any, cases: Sequence[Mapping[str, Any]]) -> list[tuple]:
    """Rows ``(style, category, cases, reward %, plain math-verify %, reward FP, plain FP)``
    (and a total per style): the reward through ``runner``, plain math-verify in this
    process, on the same written completions."""
    high = reward.output_range[1]
    out: list[tuple] = []
    for style, write in STYLES.items():
        completions = [write(c["pred"]) for c in cases]
        results = runner.results(reward, completions, [{"answer": c["gold"]} for c in cases])
        ours = [r.status == "ok" and r.reward >= high - 1e-9 for r in results]
        plain = [
            plain_math_verify(c["gold"], text)
            for c, text in zip(cases, completions, strict=True)
        ]
        mine, reference = agreement(reward.name, style, cases, ours), agreement(
            "plain", style, cases, plain
        )
        for category in sorted(mine.total):
            out.append((
                style, category, mine.total[category],
                100 * mine.agree[category] / mine.total[category],
                100 * reference.agree[category] / reference.total[category],
                sum(category == c["category"] for c in cases if c["id"] in mine.false_positives),
                sum(category == c["category"] for c in cases
                    if c["id"] in reference.false_positives),
            ))
        out.append((style, "all", sum(mine.total.values()), 100 * mine.overall,
                    100 * reference.overall, len(mine.false_positives),
                    len(reference.false_positives)))
    return out
