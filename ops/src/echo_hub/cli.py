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


def _assignment(value: str) -> tuple[str, str]:
    key, sep, rest = value.partition("=")
    if not sep or not key.strip() or not rest.strip():
        raise argparse.ArgumentTypeError(f"expected REGION=VALUE, got {value!r}")
    return key.strip(), rest.strip()


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
        "--base-port",
        type=int,
        default=8101,
        help="first HTTP port (one per service); 0 for any free ports",
    )
    dev.add_argument(
        "--topology",
        choices=["single", "multi-region"],
        default="single",
        help="single: one embedded NATS (default); multi-region: a superhub server and one leaf"
        " per region from deploy/nats, each region's services on its leaf",
    )

    streams = sub.add_parser("streams", help="streams, consumers and the DLQ")
    streams_sub = streams.add_subparsers(dest="streams_command", required=True)
    apply = streams_sub.add_parser("apply", help="create or update them (idempotent)")
    apply.add_argument("--nats", default=os.environ.get("ECHO_NATS_URL", "nats://127.0.0.1:4222"))
    apply.add_argument("--regions", type=_regions, default=DEMO_REGIONS)
    apply.add_argument("--replicas", type=int, default=1)
    where = apply.add_mutually_exclusive_group()
    where.add_argument(
        "--no-network", action="store_true", help="a regional hub: no superhub streams here"
    )
    where.add_argument(
        "--network-only",
        action="store_true",
        help="the superhub: ECHO_SUPERHUB, ECHO_NETWORK and the DLQ; no region streams/durables",
    )
    apply.add_argument(
        "--superhub-api",
        help="a leaf: the superhub's JetStream API in its domain, e.g. '$JS.hub.API'",
    )
    apply.add_argument(
        "--deliver-prefix",
        help="a leaf: deliver prefix of the templates sourced down"
        " (default with --superhub-api: deliver.<REGION ACCOUNT>.ECHO_SUPERHUB)",
    )
    apply.add_argument(
        "--region-api",
        action="append",
        type=_assignment,
        default=[],
        metavar="REGION=API",
        help="the superhub: a region's JetStream API, e.g. ontario='$JS.ontario.API' (repeat)",
    )
    apply.add_argument(
        "--region-deliver",
        action="append",
        type=_assignment,
        default=[],
        metavar="REGION=PREFIX",
        help="the superhub: deliver prefix of a region's network subjects"
        " (default with --region-api: deliver.HUB.ECHO_<REGION>)",
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

    integrator = sub.add_parser("integrator", help="read-only NATS users for integrators")
    integrator_sub = integrator.add_subparsers(dest="integrator_command", required=True)
    add = integrator_sub.add_parser("add", help="issue credentials; print the NATS config block")
    add.add_argument("name", help="the integrator's name: its durables are hub-<name>-<purpose>")
    scope = add.add_mutually_exclusive_group(required=True)
    scope.add_argument("--region", help="read this region's stream on its leaf")
    scope.add_argument("--superhub", action="store_true", help="read ECHO_NETWORK at the superhub")
    add.add_argument(
        "--purpose",
        action="append",
        help="a durable hub-<name>-<purpose> (repeat; default events and replay)",
    )
    add.add_argument("--data-dir", type=Path, default=Path(".echo-dev"))

    replay = sub.add_parser(
        "replay",
        help="rebuild a service's read models from the streams",
        description="Rebuild a service's read models from the streams. The NATS server, the"
        " database and the regions come from the flags or from the service's own settings"
        " (REPORTING_NATS_URL, REPORTING_DATABASE_URL, REPORTING_REGIONS, REPORTING_NATS_USER,"
        " REPORTING_NATS_PASSWORD, REPORTING_NETWORK_VIEW); nothing is assumed. A server"
        " without the expected streams is refused.",
    )
    replay.add_argument("service", choices=["reporting"])
    replay.add_argument("--nats", help="NATS URL (default: <SERVICE>_NATS_URL)")
    replay.add_argument("--database", help="database URL (default: <SERVICE>_DATABASE_URL)")
    replay.add_argument(
        "--regions", type=_regions, help="regions to replay (default: <SERVICE>_REGIONS)"
    )
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
        from echo_hub.streams import ApplyOptions, apply_command

        try:
            options = ApplyOptions.from_args(args)
        except ValueError as exc:
            print(f"echo-hub streams apply: {exc}", file=sys.stderr)
            return 2
        return asyncio.run(apply_command(args.nats, options))
    if args.command == "dlq":
        from echo_hub.dlq import list_command, redrive_command

        if args.dlq_command == "list":
            return asyncio.run(list_command(args.nats))
        return asyncio.run(redrive_command(args.nats, args.seq))
    if args.command == "integrator":
        from echo_hub.integrators import add_command

        return add_command(args.name, args.region, args.purpose, args.data_dir)
    if args.command == "replay":
        from echo_hub.replay import ReplayTarget, check_streams

        try:
            target = ReplayTarget.from_args(args, os.environ)
            asyncio.run(check_streams(target))
        except ValueError as exc:
            print(f"echo-hub replay: {exc}", file=sys.stderr)
            return 2
        except LookupError as exc:
            print(f"echo-hub replay: {exc}", file=sys.stderr)
            return 1
        return subprocess.call(  # noqa: S603
            [sys.executable, "-m", f"echo_{args.service}", "rebuild"],
            env={**os.environ, **target.environment()},
        )
    if args.command == "dev" and args.topology == "multi-region":
        from echo_hub.multiregion import run_multi_region

        return run_multi_region(
            regions=args.regions, data_dir=args.data_dir, fresh=args.fresh, base_port=args.base_port
        )
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
