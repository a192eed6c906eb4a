"""`echo-hub`: run the embedded platform, provision streams, mint tokens, drain the DLQ, replay."""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
from pathlib import Path

from echo_runtime.auth import Role, mint_dev_token
from echo_runtime.settings import DEV_SECRET

DEMO_REGIONS = ["ontario", "northern-ireland", "shanghai"]


def _regions(value: str) -> list[str]:
    return [r.strip() for r in value.split(",") if r.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="echo-hub", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    dev = sub.add_parser(
        "dev", help="run the whole platform on this machine (embedded NATS, SQLite)"
    )
    dev.add_argument("--regions", type=_regions, default=DEMO_REGIONS)
    dev.add_argument("--data-dir", type=Path, default=Path(".echo-dev"))
    dev.add_argument("--no-seed", action="store_true", help="start without demo data")
    dev.add_argument("--fresh", action="store_true", help="delete the data directory first")
    dev.add_argument(
        "--base-port", type=int, default=8101, help="first HTTP port (one per service)"
    )

    streams = sub.add_parser("streams", help="streams, consumers and the DLQ")
    streams_sub = streams.add_subparsers(dest="streams_command", required=True)
    apply = streams_sub.add_parser("apply", help="create or update them (idempotent)")
    apply.add_argument("--nats", default=os.environ.get("ECHO_NATS_URL", "nats://127.0.0.1:4222"))
    apply.add_argument("--regions", type=_regions, default=DEMO_REGIONS)
    apply.add_argument("--replicas", type=int, default=1)
    apply.add_argument(
        "--no-network", action="store_true", help="a regional hub: no superhub streams here"
    )

    token = sub.add_parser("token", help="mint a development token")
    token.add_argument("--role", required=True, choices=[r.value for r in Role])
    token.add_argument("--region", action="append", required=True, help="repeat; * for all")
    token.add_argument("--programme", action="append", help="limit to programme ids (repeat)")
    token.add_argument("--subject", help="the caller's id (default: a new UUID)")
    token.add_argument("--ttl", type=int, default=12 * 3600, help="seconds")
    token.add_argument("--secret", default=os.environ.get("ECHO_AUTH_DEV_SECRET", DEV_SECRET))

    dlq = sub.add_parser("dlq", help="dead letters: list and re-drive")
    dlq.add_argument("--nats", default=os.environ.get("ECHO_NATS_URL", "nats://127.0.0.1:4222"))
    dlq_sub = dlq.add_subparsers(dest="dlq_command", required=True)
    dlq_sub.add_parser("list", help="list dead-lettered messages")
    redrive = dlq_sub.add_parser("redrive", help="deliver dead letters again")
    redrive.add_argument("seq", nargs="*", type=int, help="DLQ sequence numbers (default: all)")

    replay = sub.add_parser("replay", help="rebuild a service's read models from the streams")
    replay.add_argument("service", choices=["reporting"])
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "token":
        print(
            mint_dev_token(
                args.secret,
                subject=args.subject,
                roles=[args.role],
                regions=args.region,
                programmes=args.programme,
                ttl_seconds=args.ttl,
            )
        )
        return 0
    if args.command == "streams":
        from echo_hub.streams import apply_command

        return asyncio.run(
            apply_command(args.nats, args.regions, args.replicas, not args.no_network)
        )
    if args.command == "dlq":
        from echo_hub.dlq import list_command, redrive_command

        if args.dlq_command == "list":
            return asyncio.run(list_command(args.nats))
        return asyncio.run(redrive_command(args.nats, args.seq))
    if args.command == "replay":
        return subprocess.call([sys.executable, "-m", f"echo_{args.service}", "rebuild"])  # noqa: S603
    if args.command == "dev":
        from echo_hub.dev import run_dev

        return run_dev(
            regions=args.regions,
            data_dir=args.data_dir,
            seed=not args.no_seed,
            fresh=args.fresh,
            base_port=args.base_port,
        )
    return 2
