"""Build and run the client node: ``spenefett client``.

The client is a node like any other: an Engine built from a stack file
(``nodes/client.toml``: link, input, game, render, sound), ticked at the
stack's rate, one frame per tick::

    engine = build_client("127.0.0.1:7001", account="ann", password="pw", character="Annika")
    engine.run()            # until the window closes or Ctrl-C

``headless=True`` builds the same stack without input, render and sound
(the session and mirror run, nothing is drawn or played).
"""

from __future__ import annotations

import attrs

from engine.engine import Engine
from engine.guid import NodeKind
from engine.stack import StackError, StackSpec, build_engine, load_stack
from nodes.kinds import filter_kinds, module_kinds
from nodes.runner import stack_path

__all__ = ["WINDOWED_KINDS", "build_client", "run_client"]

WINDOWED_KINDS = frozenset({"client_input", "client_render", "client_sound"})
"""Module kinds that need a display; a headless client drops them."""


def client_spec(login: str | None = None, *, stack: str | None = None, account: str | None = None,
                password: str | None = None, character: str | None = None, width: int | None = None,
                height: int | None = None, visible: bool = True, headless: bool = False) -> StackSpec:
    """The client stack with the command line's choices filled into its modules' settings."""
    spec = load_stack(stack or stack_path("client"), module_kinds=module_kinds(), filter_kinds=filter_kinds())
    if headless:
        dropped = {m.name for m in spec.modules if m.kind in WINDOWED_KINDS}
        spec = attrs.evolve(spec, modules=[m for m in spec.modules if m.name not in dropped],
                            pipes=[p for p in spec.pipes
                                   if p.sender not in dropped and p.receiver not in dropped])
    for m in spec.modules:
        s = m.settings
        if m.kind == "client_link" and login:
            host, _, port = login.rpartition(":")
            if not host or not port.isdigit():
                raise StackError(f"--login {login!r}: expected HOST:PORT")
            s["host"], s["port"] = host, int(port)
        elif m.kind == "client_game" and account:
            s.update(account=account, password=password or "", character=character or account)
        elif m.kind == "client_input" and account:
            s["account"] = account
        elif m.kind == "client_render":
            if width:
                s["width"] = width
            if height:
                s["height"] = height
            s["visible"] = visible
    return spec


def build_client(login: str | None = None, *, node_id: int | None = None, seed: int | None = None,
                 **choices: object) -> Engine:
    """The client node's Engine (modules built, not started); ``choices`` as for :func:`client_spec`."""
    import random

    spec = client_spec(login, **choices)  # type: ignore[arg-type]
    node = node_id if node_id is not None else random.randint(NodeKind.CLIENT.first, NodeKind.CLIENT.last)
    return build_engine(spec, node, module_kinds=module_kinds(), filter_kinds=filter_kinds(), seed=seed)


def run_client(login: str | None = None, **choices: object) -> int:
    """Run the client until its window closes or it is interrupted; the exit status."""
    import sys

    try:
        engine = build_client(login, **choices)
    except StackError as exc:
        print(f"spenefett client: {exc}", file=sys.stderr)
        return 2
    try:
        engine.run(handle_signals=True)
    except Exception as exc:  # no display, no OpenGL 3.3: say so in one line
        print(f"spenefett client: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0
