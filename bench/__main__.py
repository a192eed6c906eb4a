"""`python -m bench [--only NAME[,NAME]] [--quick] [--repeats N] [--rebuild-events N] [--profile]`.

Starts its own nats-server (free port), throwaway PostgreSQL databases and the services as real
processes; measures each figure with its raw baseline in the same run, `--repeats` times; prints
a table of medians and ratios and writes `bench/results/<timestamp>.json`.
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import platform
import shlex
import subprocess
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import uvloop

from bench.harness import RESULTS_DIR, Options, Row, say, table, write_json
from bench.stack import Stack

FIGURES = [
    "ingest",
    "relay",
    "consumers",
    "e2e",
    "rebuild",
    "memory",
    "reports",
    "burst",
    "console",
]
#: Figures that need the shared nats-server and PostgreSQL (memory starts its own platform).
NEEDS_STACK = {"ingest", "relay", "consumers", "e2e", "rebuild", "reports", "burst"}

#: Figures whose entry point is not `run` of `bench.fig_<name>`.
ENTRY = {"burst": ("ingest", "run_burst")}

Figure = Callable[[Stack, Options], Awaitable[list[Row]]]


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--only",
        default="",
        help=f"comma-separated figures to run (default all): {', '.join(FIGURES)}",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smaller counts and shorter runs (a smoke test)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs of each figure (default 3)")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="py-spy the service processes during the first repeat of ingest, consumers and e2e;"
        " prints where their CPU goes and keeps the collapsed stacks with the logs",
    )
    parser.add_argument(
        "--rebuild-events",
        type=int,
        default=None,
        help="events in the stream for the rebuild figure (default 30,000; 10,000 with"
        " --quick; the issue's figure is 1000000)",
    )
    parser.add_argument(
        "--report-sizes",
        default=None,
        help="comma-separated events in the region for the reports figure (default"
        " 10000,100000; 2000 with --quick; the issue's figure adds 1000000)",
    )
    args = parser.parse_args(argv)
    chosen = [n.strip() for n in args.only.split(",") if n.strip()] or FIGURES
    unknown = sorted(set(chosen) - set(FIGURES))
    if unknown:
        parser.error(f"unknown figure(s) {unknown}; choose from {FIGURES}")
    args.figures = [f for f in FIGURES if f in chosen]
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    return args


def git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        return ""


async def main(argv: list[str]) -> int:
    args = parse(argv)
    opts = Options(
        quick=args.quick,
        repeats=args.repeats,
        rebuild_events=args.rebuild_events or (10_000 if args.quick else 30_000),
        report_sizes=tuple(int(n) for n in args.report_sizes.split(","))
        if args.report_sizes
        else ((2_000,) if args.quick else (10_000, 100_000)),
    )
    started = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    log_dir = RESULTS_DIR / f"{started}-logs"
    if args.profile:
        opts = replace(opts, profile_dir=log_dir)
    command = "python -m bench " + shlex.join(argv)
    say(f"== bench {started}: {', '.join(args.figures)} ({opts}); logs in {log_dir}")
    t0 = time.perf_counter()
    rows: list[Row] = []
    errors: dict[str, str] = {}
    stack = Stack(log_dir)
    try:
        if NEEDS_STACK & set(args.figures):
            await stack.start()
        for name in args.figures:
            say(f"== {name}")
            # The webhook burst lives with ingest (the same signed webhook).
            module = importlib.import_module(f"bench.fig_{ENTRY.get(name, (name, ''))[0]}")
            figure: Figure = getattr(module, ENTRY.get(name, (name, "run"))[1])
            t1 = time.perf_counter()
            try:
                rows.extend(await figure(stack, opts))
            except Exception as exc:
                errors[name] = f"{type(exc).__name__}: {exc}"
                say(f"!! {name} failed: {errors[name]}")
                traceback.print_exc()
                rows.append(Row(name, "FAILED", "", values=[math.nan], notes=[errors[name]]))
            finally:
                stack.stop_processes()
            say(f"== {name} took {time.perf_counter() - t1:.0f}s")
    finally:
        await stack.close()
    meta = {
        "started": started,
        "command": command,
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(opts).items()},
        "figures": args.figures,
        "seconds": round(time.perf_counter() - t0, 1),
        "commit": git_commit(),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "errors": errors,
    }
    path = write_json(rows, meta)
    say("")
    say(table(rows))
    for row in rows:
        for note in row.notes:
            say(f"  - {row.figure} / {row.metric}: {note}")
    say(f"\n{command}: {meta['seconds']}s; results in {path}")
    return 1 if errors else 0


def run() -> int:
    return uvloop.run(main(sys.argv[1:]))


if __name__ == "__main__":
    raise SystemExit(run())
