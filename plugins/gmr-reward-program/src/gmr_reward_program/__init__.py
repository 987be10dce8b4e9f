"""gmr-reward-program: program-of-thought rewards with the program run in a sandbox.

``gmr_reward_program.sandbox.run_program`` runs untrusted Python in an isolated subprocess
(standard library only, no gamermath needed); ``gmr_reward_program.reward`` is the
``program`` reward built on it, and ``gmr_reward_program.plugin`` registers it with gmr.
``python -m gmr_reward_program`` reports which isolation layers hold on this machine.
"""

from __future__ import annotations

__version__ = "0.1.0"
