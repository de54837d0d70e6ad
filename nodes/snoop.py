"""``spenefett snoop NODE PIPE``: the messages crossing a pipe of a running node, as Bach text.

The node's metrics HTTP server streams them (``/snoop``, see
:mod:`engine.observe_snoop`); this command finds that server through the
GLD's directory (each node's agent announces its metrics address) unless
NODE is given as ``host:port``. The tap is removed when the snooper goes
away (Ctrl-C, ``--count``, ``--seconds``).
"""

from __future__ import annotations

import sys
import time
import urllib.error
import urllib.request
from typing import TextIO
from urllib.parse import urlencode

from nodes.tool import ToolNode


class SnoopError(RuntimeError):
    """The node or its snoop endpoint cannot be reached, or refused the request."""


def metrics_address(node: str, gld: str, timeout: float = 3.0) -> str:
    """host:port of ``node``'s metrics server: given directly, or from the GLD's directory."""
    if ":" in node:
        return node
    try:
        wanted = int(node)
    except ValueError:
        raise SnoopError(f"NODE must be a node id or host:port, got {node!r}") from None
    with ToolNode(gld) as tool:
        rows = tool.wait_for_directory(timeout=timeout)
    if not rows:
        raise SnoopError(f"no answer from the GLD at {gld} within {timeout:g} s")
    for row in rows:
        if int(row[0]) == wanted:
            address = (row[4] or {}).get("metrics")
            if not address:
                raise SnoopError(f"node {wanted} serves no metrics (start it with --metrics-port)")
            return str(address)
    raise SnoopError(f"node {wanted} is not in the GLD's directory "
                     f"(nodes: {', '.join(str(r[0]) for r in rows)})")


def snoop_lines(address: str, pipe: str, *, type_name: str | None = None, guid: str | None = None,
                timeout: float = 5.0) -> urllib.request.addinfourl:
    """Open the stream (a file of lines); closing it ends the tap on the node."""
    query = {"pipe": pipe}
    if type_name:
        query["type"] = type_name
    if guid:
        query["guid"] = guid
    url = f"http://{address}/snoop?{urlencode(query)}"
    try:
        return urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 (http on loopback)
    except urllib.error.HTTPError as exc:
        raise SnoopError(exc.read().decode(errors="replace").strip().removeprefix("# error ")) from None
    except (urllib.error.URLError, OSError) as exc:
        raise SnoopError(f"cannot reach {url}: {getattr(exc, 'reason', exc)}") from None


def run_snoop(node: str, pipe: str, *, type_name: str | None = None, guid: str | None = None,
              gld: str, count: int | None = None, seconds: float | None = None,
              out: TextIO = sys.stdout) -> int:
    try:
        address = metrics_address(node, gld)
        stream = snoop_lines(address, pipe, type_name=type_name, guid=guid)
    except SnoopError as exc:
        print(f"spenefett snoop: {exc}", file=sys.stderr)
        return 2
    end = None if seconds is None else time.monotonic() + seconds
    shown = 0
    try:
        with stream:
            while count is None or shown < count:
                if end is not None and time.monotonic() >= end:
                    break
                try:
                    raw = stream.readline()
                except TimeoutError:
                    continue
                if not raw:
                    print("spenefett snoop: the node closed the stream", file=sys.stderr)
                    return 1
                line = raw.decode(errors="replace").rstrip("\n")
                if not line or line == "#":
                    continue
                if not line.startswith("#"):
                    shown += 1
                print(line, file=out, flush=True)
    except KeyboardInterrupt:
        pass
    return 0
