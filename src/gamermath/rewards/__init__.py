"""The reward runtime: how gmr calls reward plugins.

- ``answers``: final-answer extraction and numeric comparison (GSM8K style);
- ``runner``: ``RewardRunner``, isolated worker processes with timeouts and a cache;
- ``terms``: ``RewardTerm``, weights and gates of a recipe's reward mix;
- ``trl_adapter``: reward terms as TRL reward functions, and a counters callback;
- ``check``: the conformance battery behind ``gmr reward check``.
"""
