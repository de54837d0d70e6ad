"""``spenefett top``: every node of a running cluster, refreshed each second.

Finds the nodes through the GLD's directory and asks each for its status
(the same ``StatusRequest`` as ``spenefett status``), then shows per node:
ticks, overruns, the longest garbage-collector pause (red when longer than
a tick: an overrun no module caused), connected clients, entities and
ObjectSpaces, the deepest pipe; and per module its tick p50/p99. The worst value of each column is
shown in red (and overruns, errors, dead nodes always are) when the output
is a terminal; plain text otherwise. ``--once`` prints one view and exits.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from nodes.tool import ToolNode

_RED = "\x1b[31;1m"
_DIM = "\x1b[2m"
_RESET = "\x1b[0m"
_CLEAR = "\x1b[H\x1b[2J"


def _sum_status(status: dict[str, Any], key: str) -> int:
    return sum(int(m.get(key, 0)) for m in status.get("modules", []) if type(m.get(key)) is int)


def node_row(row: list[Any], status: dict[str, Any] | None) -> dict[str, Any]:
    """The numbers top shows for one directory row and its status (None: it did not answer)."""
    node, role, _address, alive, _extra = row
    out: dict[str, Any] = {"node": int(node), "role": role, "alive": bool(alive), "answered": False}
    if status is None:
        return out
    pipes = status.get("pipes", [])
    deepest = max(pipes, key=lambda p: p.get("depth", 0), default=None)
    out.update(
        answered=True, tick=status.get("tick", 0), overruns=status.get("overruns", 0),
        p50=status.get("tick_ms", {}).get("p50", 0.0), p99=status.get("tick_ms", {}).get("p99", 0.0),
        clients=_sum_status(status, "clients"), entities=_sum_status(status, "objects"),
        spaces=_sum_status(status, "objectspaces"), errors=_sum_status(status, "errors"),
        gc_ms=max(status.get("gc", {}).get("longest_ms", [0.0]) or [0.0]),
        budget_ms=1000.0 / status["tick_rate"] if status.get("tick_rate") else 50.0,
        pipe=deepest.get("name") if deepest else "-", depth=deepest.get("depth", 0) if deepest else 0,
        peak=max((p.get("peak_depth", 0) for p in pipes), default=0),
        modules=[(t["module"], t["p50"] * 1000, t["p99"] * 1000) for t in status.get("tick_times", [])],
    )
    return out


def render(rows: list[dict[str, Any]], *, colour: bool) -> str:
    """The view as text; the worst of each column (and any trouble) in red when ``colour``."""
    def paint(text: str, bad: bool) -> str:
        return f"{_RED}{text}{_RESET}" if colour and bad else text

    answered = [r for r in rows if r["answered"]]
    worst = {k: max((r[k] for r in answered), default=0) for k in ("p99", "depth", "overruns", "clients")}
    module_worst = max((p99 for r in answered for _, _, p99 in r["modules"]), default=0.0)
    lines = [time.strftime("%H:%M:%S ") + f"{len(answered)}/{len(rows)} nodes answering",
             f"{'node':>6} {'role':<12} {'ticks':>8} {'p50 ms':>7} {'p99 ms':>7} {'overruns':>8} "
             f"{'gc ms':>6} {'clients':>7} {'entities':>8} {'spaces':>6} {'errors':>6}  deepest pipe"]
    for r in rows:
        head = f"{r['node']:>6} {r['role']:<12}"
        if not r["answered"]:
            lines.append(head + " " + paint("no answer" if r["alive"] else "DEAD", True))
            continue
        pipe = f"{r['pipe']} {r['depth']} (peak {r['peak']})"
        lines.append(" ".join([
            head, f"{r['tick']:>8}", f"{r['p50']:>7.2f}",
            paint(f"{r['p99']:>7.2f}", r["p99"] == worst["p99"] and r["p99"] > 0),
            paint(f"{r['overruns']:>8}", r["overruns"] > 0),
            paint(f"{r['gc_ms']:>6.1f}", r["gc_ms"] > r["budget_ms"]),  # a pause longer than a tick
            paint(f"{r['clients']:>7}", r["clients"] == worst["clients"] and r["clients"] > 0),
            f"{r['entities']:>8}", f"{r['spaces']:>6}", paint(f"{r['errors']:>6}", r["errors"] > 0),
            " " + paint(pipe, r["depth"] == worst["depth"] and r["depth"] > 0)]))
        for name, p50, p99 in r["modules"]:
            text = f"{'':>20}{name:<16} p50 {p50:7.3f} ms  p99 {p99:7.3f} ms"
            if p99 == module_worst and p99 > 0:
                lines.append(paint(text, True))
            else:
                lines.append(f"{_DIM}{text}{_RESET}" if colour else text)
    return "\n".join(lines)


def snapshot(tool: ToolNode, timeout: float = 1.0) -> list[dict[str, Any]]:
    rows = tool.refresh_directory(timeout=timeout)
    statuses = tool.statuses(timeout=timeout)
    return [node_row(row, statuses.get(int(row[0]))) for row in sorted(rows, key=lambda r: int(r[0]))]


def run_top(gld: str, *, once: bool = False, interval: float = 1.0, out: TextIO = sys.stdout,
            timeout: float = 3.0) -> int:
    """Show the view until Ctrl-C (or once); 1 when the GLD does not answer."""
    colour = out.isatty()
    with ToolNode(gld) as tool:
        if not tool.wait_for_directory(timeout=timeout):
            print(f"no answer from the GLD at {gld} within {timeout:g} s", file=out)
            return 1
        try:
            while True:
                started = time.perf_counter()
                text = render(snapshot(tool), colour=colour)
                out.write((_CLEAR if colour and not once else "") + text + "\n")
                out.flush()
                if once:
                    return 0
                tool.pump(max(0.0, interval - (time.perf_counter() - started)))
        except KeyboardInterrupt:
            return 0
