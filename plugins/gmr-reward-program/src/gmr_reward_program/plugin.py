"""The gmr entry point: registers the ``program`` reward and the program-of-thought templates."""

from __future__ import annotations

from gamermath.hookspecs import hookimpl
from gamermath.specs import PromptTemplate, Reward
from gmr_reward_program import reward, templates


@hookimpl
def register_rewards(register) -> None:
    register(
        Reward(
            name="program",
            score=reward.score,
            description="1 if the completion's Python program, run in a sandbox, prints the gold",
            columns=("answer",),
            output_range=(0.0, 1.0),
            options=dict(reward.OPTIONS),
            timeout=reward.TIMEOUT_S,
            cache_key=reward.cache_key,
        )
    )


@hookimpl
def register_templates(register) -> None:
    register(
        PromptTemplate(
            name="program-of-thought",
            render=templates.render_program_of_thought,
            description="chat or text: write one ```python block that prints the final answer "
            "(for the program reward); zero-shot",
            shots=0,
            options={"system": templates.PROGRAM_SYSTEM_PROMPT, "style": "chat"},
            answer_line=r"```python\n",  # held-out format rate: a program block was written
        )
    )
    register(
        PromptTemplate(
            name="youronmath-code",
            render=templates.render_youronmath_code,
            description="text: YouronMath released code's 'code' format, the model continues "
            "def solution(); shots = 2 prepends the source's 2 worked programs",
            shots=0,
            options={"examples": "", "num_examples": 2},
            answer_line=r"\n    return\s+\S",  # held-out format rate: solution() returns
            exemplars=templates.YOURONMATH_CODE_EXEMPLARS,
            shot_draw="per-run",
        )
    )
