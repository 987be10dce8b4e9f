"""What GRPO's KL term measures against (the reference model), for the installed TRL.

gmr trains one LoRA adapter through both stages: SFT's adapter (named ``default``) is
handed to ``GRPOTrainer`` as a ``PeftModel``. What TRL then uses as the reference for
``beta > 0`` depends on its version (read in TRL's ``GRPOTrainer.__init__``):

- TRL 0.27 and later: a frozen copy of the adapter it was given, added as a second adapter
  named ``ref`` (its tensors copied from ``default``); reference log-probabilities run with
  ``ref`` active. So the KL term pulls GRPO back towards the **SFT model**.
- TRL before 0.27: no copy; the reference is the base model with adapters disabled, so the
  KL term would pull GRPO back towards the **base model**, undoing SFT.

Without SFT, GRPO makes a fresh adapter (LoRA's B matrices are zero), and with adapters
disabled the reference is the base model, which is also the policy at step 0. gmr requires
``trl>=0.27`` (pyproject), so with SFT the reference is the SFT model; ``kl_reference``
states it for the run's ``environment.json``.
"""

from __future__ import annotations

from packaging.version import Version

#: First TRL release whose GRPOTrainer copies a given adapter into a frozen "ref" adapter.
REF_ADAPTER_SINCE = Version("0.27.0")


def kl_reference(beta: float, starts_from_adapter: bool, trl_version: str,
                 lora: bool = True) -> str:
    """One line: what the KL term of this run compares the policy with."""
    if not beta:
        return "none: beta = 0, no KL term"
    if not lora:  # TRL loads a frozen copy from the policy's own path (config._name_or_path)
        return ("the SFT model: a frozen copy TRL loads from checkpoints/sft/final"
                if starts_from_adapter else "the base model: a frozen copy TRL loads from the "
                "model's source")
    if not starts_from_adapter:
        return "the base model (adapters disabled), equal to the policy at GRPO step 0"
    if Version(trl_version) >= REF_ADAPTER_SINCE:
        return "the SFT model: a frozen copy of the SFT adapter (TRL's 'ref' adapter)"
    return (f"the base model with adapters disabled (TRL {trl_version} < 0.27), not the SFT "
            "model")
