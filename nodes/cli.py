"""The ``spenefett`` command.

    spenefett node ROLE --id N [--stack FILE] [--gld ADDR] [--listen ADDR]
    spenefett cluster [--seconds S] [--gld-port P] [--run-dir DIR]
    spenefett status [--gld ADDR]
"""

from __future__ import annotations

import argparse
import logging
import sys

from nodes.runner import DEFAULT_GLD_ADDRESS, ROLES


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spenefett", description="Spenefett MMO server engine")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    sub = parser.add_subparsers(dest="command", required=True)

    node = sub.add_parser("node", help="run one node of a role")
    node.add_argument("role", help=f"one of: {', '.join(ROLES)}")
    node.add_argument("--id", type=int, required=True, help="node id (in the role's range)")
    node.add_argument("--stack", help="stack file (default: nodes/ROLE.toml)")
    node.add_argument("--gld", default=DEFAULT_GLD_ADDRESS, help="the GLD's transport address")
    node.add_argument("--listen", help="this node's transport address (default: a free port)")
    node.add_argument("--set", action="append", default=[], metavar="MODULE.SETTING=VALUE",
                      help="override a module setting of the stack file (repeatable)")

    cluster = sub.add_parser("cluster", help="run one node of every server role on loopback")
    cluster.add_argument("--seconds", type=float, help="stop after this long (default: until Ctrl-C)")
    cluster.add_argument("--gld-port", type=int, default=7100)
    cluster.add_argument("--run-dir", default="var/cluster", help="where node logs go")
    cluster.add_argument("--ephemeral-ports", action="store_true",
                         help="client-facing ports on free ports instead of the stack files' (tests)")

    status = sub.add_parser("status", help="print the directory and each node's tick health")
    status.add_argument("--gld", default=DEFAULT_GLD_ADDRESS)
    status.add_argument("--timeout", type=float, default=3.0)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "node":
        from nodes.runner import NodeConfigError, parse_overrides, run_node
        try:
            overrides = parse_overrides(args.set)
        except NodeConfigError as exc:
            print(f"spenefett node: {exc}", file=sys.stderr)
            return 2
        return run_node(args.role, args.id, stack=args.stack, gld=args.gld, listen=args.listen,
                        overrides=overrides)
    if args.command == "cluster":
        logging.getLogger().setLevel(logging.WARNING)
        from nodes.cluster import run_cluster
        return run_cluster(seconds=args.seconds, gld_port=args.gld_port, run_dir=args.run_dir,
                           ephemeral_ports=args.ephemeral_ports)
    if args.command == "status":
        logging.getLogger().setLevel(logging.WARNING)
        from nodes.status import print_status
        return print_status(args.gld, timeout=args.timeout)
    return 2


if __name__ == "__main__":
    sys.exit(main())
