"""Run one benchmark: ``python -m bench NAME [--json]``."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import bench
from bench._report import to_json, to_table


def _available() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("name", choices=_available(), help="which benchmark to run")
    parser.add_argument("--json", action="store_true", help="print the rows as a JSON list")
    args = parser.parse_args(argv)
    module = importlib.import_module(f"bench.{args.name}")

    def progress(text: str) -> None:
        print(f"  .. {text}", file=sys.stderr, flush=True)

    rows = module.run(progress)
    print(to_json(rows) if args.json else to_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
