"""The training engine: a recipe to a trained LoRA adapter through TRL's SFT and GRPO trainers.

``gamermath.engine.train.train(recipe, run_dir)`` runs the optional SFT warm-up, then GRPO,
writing the run directory described in ``gamermath.run_dir``. Importing this package
is cheap; torch and TRL load when training starts.
"""
