"""Benchmarks: ``python -m bench NAME [--json]`` from the repository root.

Each ``bench/NAME.py`` defines ``run(progress) -> list[Row]``; the runner
prints the rows as a table (or JSON) with every figure beside a baseline
measured in the same run. Targets live here, never in the test suite.
"""

from bench._report import Row, ratio

__all__ = ["Row", "ratio"]
