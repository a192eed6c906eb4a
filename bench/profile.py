"""`--profile`: py-spy on the service processes while a figure measures them, and a summary.

py-spy (a dev dependency) samples a process from outside (`record --nonblocking`, 100 Hz), so
the service runs unmodified; it needs ptrace rights over its children (root, or
`kernel.yama.ptrace_scope` 0). Each profile is written as collapsed stacks
(`bench/results/<run>-logs/profile-<figure>-<process>.txt`, flamegraph.pl or speedscope read
it) and summarised on the console: the busy samples' share by library (the leaf frame's
package: where the CPU goes) and the functions with the largest inclusive share (what calls
it). Idle samples (the event loop waiting) are not recorded, so shares are of busy time.
Profiling costs the sampled process a little CPU, so `make bench` does not profile; run
`python -m bench --profile --repeats 1 --only ...` for the explanation of a figure.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.harness import say
from bench.stack import ServiceProcess

RATE = 100
#: Leaf-frame file paths -> the library a busy sample is spent in (first match wins).
LIBRARIES = [
    ("sqlalchemy", "sqlalchemy"),
    ("asyncpg", "asyncpg"),
    ("aiosqlite", "sqlite"),
    ("pydantic", "pydantic"),
    ("fastapi", "fastapi/starlette"),
    ("starlette", "fastapi/starlette"),
    ("uvicorn", "uvicorn/httptools"),
    ("httptools", "uvicorn/httptools"),
    ("opentelemetry", "opentelemetry"),
    ("structlog", "structlog"),
    ("prometheus_client", "prometheus"),
    ("nats/", "nats-py"),
    ("jwt", "jwt"),
    ("greenlet", "greenlet"),
    ("echo_cases/adapters/phi_screener", "cases PHI screener"),
    ("echo_", "platform code"),
    ("asyncio/runners", "event loop and I/O (uvloop, C)"),
    ("/asyncio/", "asyncio"),
    ("/re/", "re"),
    ("json", "json"),
]
#: Frames under which every sample of a service process sits: not worth listing.
ROOTS = (".<module>", "cli.run_service_cli", "__main__.main")
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


@dataclass
class Profile:
    """Collapsed stacks of one process: sample counts by stack."""

    stacks: Counter[tuple[str, ...]]

    @classmethod
    def read(cls, path: Path) -> Profile:
        stacks: Counter[tuple[str, ...]] = Counter()
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if stack and count.isdigit():
                stacks[tuple(stack.split(";"))] += int(count)
        return cls(stacks)

    @property
    def samples(self) -> int:
        return sum(self.stacks.values())

    def by_library(self) -> list[tuple[str, float]]:
        """Share of busy samples whose leaf frame is in each library."""
        counts: Counter[str] = Counter()
        for stack, n in self.stacks.items():
            counts[library_of(stack[-1])] += n
        total = self.samples or 1
        return [(name, n / total) for name, n in counts.most_common()]

    def inclusive(self, *, within: str = "echo_") -> list[tuple[str, float]]:
        """Functions of the platform (path contains `within`) by inclusive share."""
        counts: Counter[str] = Counter()
        for stack, n in self.stacks.items():
            for name in {short(frame) for frame in stack if within in frame}:
                if not name.endswith(ROOTS):
                    counts[name] += n
        total = self.samples or 1
        return [(name, n / total) for name, n in counts.most_common()]


def library_of(frame: str) -> str:
    for needle, name in LIBRARIES:
        if needle in frame:
            return name
    return "other"


def short(frame: str) -> str:
    """`function (path/to/pkg/module.py:12)` -> `module.function`."""
    found = _FRAME.match(frame)
    if not found:
        return frame
    module = Path(found["file"]).stem
    return f"{module}.{found['func']}"


def summary(label: str, profile: Profile, *, top: int = 12) -> list[str]:
    libs = ", ".join(f"{name} {share:.0%}" for name, share in profile.by_library()[:top])
    funcs = ", ".join(f"{name} {share:.0%}" for name, share in profile.inclusive()[:top])
    return [
        f"  profile {label}: {profile.samples} busy samples at {RATE} Hz",
        f"    by library (leaf frame): {libs}",
        f"    platform functions (inclusive): {funcs}",
    ]


def py_spy() -> str | None:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    return found if Path(found).exists() else None


class Sampler:
    """`py-spy record` on some processes, from `start()` to `finish()` (then summarised)."""

    def __init__(self, out_dir: Path | None, label: str, procs: Sequence[ServiceProcess]):
        self.out_dir = out_dir
        self.label = label
        self.procs = list(procs)
        self.binary = py_spy() if out_dir is not None else None
        self.running: list[tuple[str, Path, subprocess.Popen[bytes]]] = []
        if out_dir is not None and self.binary is None:
            say("  (no py-spy in the environment: not profiled)")

    def start(self) -> None:
        if self.out_dir is None or self.binary is None or self.running:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for proc in self.procs:
            name = f"{self.label}-{proc.name}-{proc.port}"
            path = self.out_dir / f"profile-{name}.txt"
            argv = [self.binary, "record", "--pid", str(proc.pid), "--rate", str(RATE)]
            sampler = subprocess.Popen(
                [*argv, "--nonblocking", "--format", "raw", "--output", str(path)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            self.running.append((name, path, sampler))

    async def finish(self) -> None:
        for _, _, sampler in self.running:
            sampler.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        for name, path, sampler in self.running:
            try:
                _, err = await asyncio.to_thread(sampler.communicate, timeout=60)
            except subprocess.TimeoutExpired:
                sampler.kill()
                say(f"  profile {name}: py-spy did not finish")
                continue
            if not path.exists():
                say(f"  profile {name}: no output ({err.decode(errors='replace').strip()[-300:]})")
                continue
            for line in summary(name, Profile.read(path)):
                say(line)
            say(f"    collapsed stacks: {path}")
        self.running.clear()


@contextlib.asynccontextmanager
async def profiled(
    out_dir: Path | None, label: str, procs: Sequence[ServiceProcess]
) -> AsyncIterator[None]:
    """Sample `procs` for the duration of the block when profiling was asked for."""
    sampler = Sampler(out_dir, label, procs)
    sampler.start()
    if sampler.running:
        await asyncio.sleep(0.5)  # attached
    try:
        yield
    finally:
        await sampler.finish()
