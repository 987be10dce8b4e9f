"""lm-evaluation-harness task YAMLs and published baselines shipped with gamermath."""
