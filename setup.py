"""Package list: everything under src/, plus evals/ and recipes/ mapped into gamermath."""

from setuptools import find_packages, setup

setup(packages=find_packages("src") + ["gamermath.evals", "gamermath.recipes"])
