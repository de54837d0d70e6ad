"""The ``spenefett`` command.

    spenefett node ROLE --id N [--stack FILE] [--gld ADDR] [--listen ADDR]
    spenefett cluster [--seconds S] [--gld-port P] [--run-dir DIR]
    spenefett status [--gld ADDR]
    spenefett top [--gld ADDR] [--once]
    spenefett snoop NODE PIPE [--type NAME] [--guid G]
    spenefett replay DIR [--until TICK]
    spenefett bots N [--scenario wander|fight|chat] [--login ADDR] [--seconds S]
    spenefett worldbuilder [WORLD_FILE] [--live HOST:PORT --account NAME --password PW]
    spenefett client [--login HOST:PORT] [--account NAME --password PW --character NAME]
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
    node.add_argument("--record", metavar="DIR",
                      help="record what enters and leaves the node, for `spenefett replay DIR`")
    node.add_argument("--metrics-port", type=int, metavar="PORT",
                      help="serve Prometheus metrics here (0: a free port; default: the stack's [metrics])")

    cluster = sub.add_parser("cluster", help="run one node of every server role on loopback")
    cluster.add_argument("--seconds", type=float, help="stop after this long (default: until Ctrl-C)")
    cluster.add_argument("--gld-port", type=int, default=7100)
    cluster.add_argument("--run-dir", default="var/cluster", help="where node logs go")
    cluster.add_argument("--ephemeral-ports", action="store_true",
                         help="client-facing ports on free ports instead of the stack files' (tests)")

    status = sub.add_parser("status", help="print the directory and each node's tick health")
    status.add_argument("--gld", default=DEFAULT_GLD_ADDRESS)
    status.add_argument("--timeout", type=float, default=3.0)

    top = sub.add_parser("top", help="every node's tick times, clients, entities and pipes, live")
    top.add_argument("--gld", default=DEFAULT_GLD_ADDRESS)
    top.add_argument("--once", action="store_true", help="print one view and exit")
    top.add_argument("--interval", type=float, default=1.0, help="seconds between refreshes")

    snoop = sub.add_parser("snoop", help="print the messages crossing a pipe of a running node")
    snoop.add_argument("node", help="node id (or host:port of its metrics server)")
    snoop.add_argument("pipe", help="SENDER->RECEIVER, e.g. net->logic")
    snoop.add_argument("--type", help="only messages of this type (Bach or class name, or type id)")
    snoop.add_argument("--guid", help="only messages to or from this Guid (node:space:object)")
    snoop.add_argument("--gld", default=DEFAULT_GLD_ADDRESS)
    snoop.add_argument("--count", type=int, help="stop after this many messages")
    snoop.add_argument("--seconds", type=float, help="stop after this long")

    replay = sub.add_parser("replay", help="re-run a recorded node and compare what it sends")
    replay.add_argument("dir", help="the directory given to `spenefett node --record`")
    replay.add_argument("--until", type=int, metavar="TICK",
                        help="stop after this tick and print the ObjectSpaces")

    bots = sub.add_parser("bots", help="N headless players that log in and play the demo game")
    bots.add_argument("count", type=int, metavar="N", help="how many bots")
    bots.add_argument("--scenario", default="wander", choices=("wander", "fight", "chat"))
    bots.add_argument("--login", default="127.0.0.1:7001", help="the login node's client address")
    bots.add_argument("--seconds", type=float, default=30.0, help="how long they play once all are in")
    bots.add_argument("--seed", type=int, help="seed of the bots' choices (default: the process id)")

    client = sub.add_parser("client", help="play: the game client (a window; docs/client.md)")
    client.add_argument("--login", default="127.0.0.1:7001", help="the login node's client address")
    client.add_argument("--account", help="log in (or create the account) without the login screen")
    client.add_argument("--password", help="with --account (default: $SPENEFETT_PASSWORD)")
    client.add_argument("--character", help="with --account: play this character (made if missing)")
    client.add_argument("--size", default="1024x640", help="window size WIDTHxHEIGHT")
    client.add_argument("--headless", action="store_true", help="no window or sound (the session only)")

    builder = sub.add_parser("worldbuilder", help="the designers' world editor (a window)")
    builder.add_argument("world", nargs="?", help="world file (default: the demo world)")
    builder.add_argument("--live", metavar="HOST:PORT", help="also edit a running cluster (its login node)")
    builder.add_argument("--account", help="live: a designer account")
    builder.add_argument("--password", help="live: its password (default: $SPENEFETT_PASSWORD)")
    builder.add_argument("--character", help="live: the character to enter as (default: the first)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "node":
        from nodes.runner import NodeConfigError, parse_overrides, run_node
        if args.record:
            from nodes.recording import pin_hash_seed
            pin_hash_seed(sys.argv[1:] if argv is None else argv)
        try:
            overrides = parse_overrides(args.set)
        except NodeConfigError as exc:
            print(f"spenefett node: {exc}", file=sys.stderr)
            return 2
        return run_node(args.role, args.id, stack=args.stack, gld=args.gld, listen=args.listen,
                        overrides=overrides, record=args.record, metrics_port=args.metrics_port)
    if args.command == "cluster":
        logging.getLogger().setLevel(logging.WARNING)
        from nodes.cluster import run_cluster
        return run_cluster(seconds=args.seconds, gld_port=args.gld_port, run_dir=args.run_dir,
                           ephemeral_ports=args.ephemeral_ports)
    if args.command == "status":
        logging.getLogger().setLevel(logging.WARNING)
        from nodes.status import print_status
        return print_status(args.gld, timeout=args.timeout)
    if args.command == "top":
        logging.getLogger().setLevel(logging.WARNING)
        from nodes.top import run_top
        return run_top(args.gld, once=args.once, interval=args.interval)
    if args.command == "snoop":
        logging.getLogger().setLevel(logging.WARNING)
        from nodes.snoop import run_snoop
        return run_snoop(args.node, args.pipe, type_name=args.type, guid=args.guid, gld=args.gld,
                         count=args.count, seconds=args.seconds)
    if args.command == "replay":
        logging.getLogger().setLevel(logging.WARNING)
        from nodes.replay import run_replay
        return run_replay(args.dir, until=args.until, argv=sys.argv[1:] if argv is None else argv)
    if args.command == "bots":
        logging.getLogger().setLevel(logging.WARNING)
        from nodes.bots import run_bots
        report = run_bots(args.count, args.login, scenario=args.scenario, seconds=args.seconds,
                          seed=args.seed)
        print("\n".join(report.lines()))
        return 0 if report.in_world else 1
    if args.command == "client":
        import os

        from nodes.client.app import run_client
        width, _, height = args.size.partition("x")
        password = args.password if args.password is not None else os.environ.get("SPENEFETT_PASSWORD")
        return run_client(args.login, account=args.account, password=password, character=args.character,
                          width=int(width) if width.isdigit() else None,
                          height=int(height) if height.isdigit() else None, headless=args.headless)
    if args.command == "worldbuilder":
        import os

        from worldbuilder import run
        password = args.password if args.password is not None else os.environ.get("SPENEFETT_PASSWORD")
        return run(args.world, live=args.live, account=args.account, password=password,
                   character=args.character)
    return 2


if __name__ == "__main__":
    sys.exit(main())
