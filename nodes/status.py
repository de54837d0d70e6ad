"""``spenefett status``: the directory and each node's tick health, from another terminal."""

from __future__ import annotations

import sys
from typing import TextIO

from nodes.tool import ToolNode


def print_status(gld: str, *, timeout: float = 3.0, out: TextIO = sys.stdout) -> int:
    """Print one line per node; exit status 1 when the GLD does not answer."""
    with ToolNode(gld) as tool:
        rows = tool.wait_for_directory(timeout=timeout)
        if not rows:
            print(f"no answer from the GLD at {gld} within {timeout:g} s", file=out)
            return 1
        statuses = tool.statuses(timeout=timeout)
    print(f"{'node':>6}  {'role':<12} {'alive':<5}  {'ticks':>8}  {'p50 ms':>7}  {'p99 ms':>7}  "
          f"{'overruns':>8}  address", file=out)
    for node, role, address, alive, extra in rows:
        s = statuses.get(int(node))
        if s is None:
            tick = p50 = p99 = overruns = "-"
        else:
            tick, overruns = s["tick"], s["overruns"]
            p50, p99 = f"{s['tick_ms']['p50']:.2f}", f"{s['tick_ms']['p99']:.2f}"
        clients = f"  clients {extra['clients']}" if extra.get("clients") else ""
        print(f"{node:>6}  {role:<12} {'yes' if alive else 'NO':<5}  {tick:>8}  {p50:>7}  {p99:>7}  "
              f"{overruns:>8}  {address}{clients}", file=out)
    return 0
