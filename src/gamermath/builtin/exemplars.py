"""Fixed few-shot exemplar sets that published recipes prompt with (data, not code).

Each exemplar is a row like a dataset's: ``question``, ``reasoning`` (the worked steps) and
``answer``. The eight questions are Wei et al. (2022), "Chain-of-Thought Prompting Elicits
Reasoning in Large Language Models", Table 20 (GSM8K).

- ``YOURONMATH_EXAMPLARS``: the copy YouronMath's ``gsm8k.py`` reads through
  ``resources.EXAMPLARS`` (shinandrew/YouronMath @ 21af604, ``resources/examplars.py``, keys
  question/cot_answer/short_answer), byte for byte: only its first solution ends "So the
  answer is 6."; the other seven end with their last computation.
- ``GPU_LAB_PLAIN``: the same questions with answers reworded to end in a ``#### N`` line,
  as the Qwen3.5-0.8B-GRPO-Math card's evaluation writes them (CelestialCreator/gpu-lab
  ``projects/05-grpo-reasoning/scripts/eval_gsm8k.py`` ``FEW_SHOT_EXAMPLES`` @ 0679a4a, the
  card's "8-shot (plain format)"; at f7369ea that list holds the "<think> aligned" set).
"""

from __future__ import annotations

QUESTIONS = (
    "There are 15 trees in the grove. Grove workers will plant trees in the grove today. "
    "After they are done, there will be 21 trees. How many trees did the grove workers "
    "plant today?",
    "If there are 3 cars in the parking lot and 2 more cars arrive, how many cars are in the "
    "parking lot?",
    "Leah had 32 chocolates and her sister had 42. If they ate 35, how many pieces do they "
    "have left in total?",
    "Jason had 20 lollipops. He gave Denny some lollipops. Now Jason has 12 lollipops. How "
    "many lollipops did Jason give to Denny?",
    "Shawn has five toys. For Christmas, he got two toys each from his mom and dad. How many "
    "toys does he have now?",
    "There were nine computers in the server room. Five more computers were installed each "
    "day, from monday to thursday. How many computers are now in the server room?",
    "Michael had 58 golf balls. On tuesday, he lost 23 golf balls. On wednesday, he lost 2 "
    "more. How many golf balls did he have at the end of wednesday?",
    "Olivia has $23. She bought five bagels for $3 each. How much money does she have left?",
)

ANSWERS = ("6", "5", "39", "8", "9", "29", "33", "8")

# resources/examplars.py @ 21af604, cot_answer of each entry, verbatim.
_YOURONMATH_COT = (
    "There are 15 trees originally. Then there were 21 trees after some more were planted. "
    "So there must have been 21 - 15 = 6. So the answer is 6.",
    "There are originally 3 cars. 2 more cars arrive. 3 + 2 = 5.",
    "Originally, Leah had 32 chocolates. Her sister had 42. So in total they had 32 + 42 = 74. "
    "After eating 35, they had 74 - 35 = 39.",
    "Jason started with 20 lollipops. Then he had 12 after giving some to Denny. So he gave "
    "Denny 20 - 12 = 8.",
    "Shawn started with 5 toys. If he got 2 toys each from his mom and dad, then that is 4 "
    "more toys. 5 + 4 = 9.",
    "There were originally 9 computers. For each of 4 days, 5 more computers were added. So "
    "5 * 4 = 20 computers were added. 9 + 20 is 29.",
    "Michael started with 58 golf balls. After losing 23 on tuesday, he had 58 - 23 = 35. "
    "After losing 2 more, he had 35 - 2 = 33 golf balls.",
    "Olivia had 23 dollars. 5 bagels for 3 dollars each will be 5 x 3 = 15 dollars. So she "
    "has 23 - 15 dollars left. 23 - 15 is 8.",
)

_GPU_LAB_STEPS = (
    "There are 15 trees originally. Then there were 21 trees after some more were planted. "
    "So there must have been 21 - 15 = 6 trees planted.",
    "There are originally 3 cars. 2 more cars arrive. 3 + 2 = 5.",
    "Originally, Leah had 32 chocolates. Her sister had 42. So in total they had 32 + 42 = 74. "
    "After eating 35, they had 74 - 35 = 39.",
    "Jason started with 20 lollipops. Then he had 12 after giving some to Denny. So he gave "
    "Denny 20 - 12 = 8 lollipops.",
    "Shawn started with 5 toys. If he got 2 toys each from his mom and dad, then that is "
    "2 + 2 = 4 more toys. 5 + 4 = 9.",
    "There were originally 9 computers. For each of 4 days, 5 more computers were added. So "
    "5 * 4 = 20 computers were added. 9 + 20 = 29.",
    "Michael started with 58 golf balls. After losing 23 on tuesday, he had 58 - 23 = 35. "
    "After losing 2 more, he had 35 - 2 = 33 golf balls.",
    "Olivia had 23 dollars. 5 bagels for 3 dollars each is 5 * 3 = 15 dollars. So she has "
    "23 - 15 = 8 dollars left.",
)


def _rows(steps: tuple[str, ...]) -> tuple[dict[str, str], ...]:
    return tuple(
        {"question": q, "reasoning": s, "answer": a}
        for q, s, a in zip(QUESTIONS, steps, ANSWERS, strict=True)
    )


YOURONMATH_EXAMPLARS = _rows(_YOURONMATH_COT)
GPU_LAB_PLAIN = _rows(_GPU_LAB_STEPS)
