"""An asyncio HTTP/1.1 load generator with keep-alive connections, bounded in count and time.

A few dozen lines on asyncio streams instead of httpx: httpx spends ~5x more CPU per request, and
on a 2-core machine the load generator's CPU is taken from the services it measures. Talks only
to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.harness import percentile

HOST = "127.0.0.1"

#: method, path, body, extra headers
Request = tuple[str, str, bytes, dict[str, str]]


class Connection:
    """One keep-alive HTTP/1.1 connection to 127.0.0.1:port."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None or self._writer.is_closing():
            self._reader, self._writer = await asyncio.open_connection(HOST, self.port)
        return self._reader, self._writer

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        reader, writer = await self._open()
        head = [f"{method} {path} HTTP/1.1", f"host: {HOST}:{self.port}"]
        if body or method in ("POST", "PUT", "PATCH"):
            head.append(f"content-length: {len(body)}")
        for key, value in (headers or {}).items():
            head.append(f"{key}: {value}")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        try:
            raw = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            await self.close()
            raise
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        fields: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                key, _, value = line.partition(":")
                fields[key.strip().lower()] = value.strip()
        if "content-length" in fields:
            payload = await reader.readexactly(int(fields["content-length"]))
        elif fields.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
                chunk = await reader.readexactly(size + 2)
                if size == 0:
                    break
                chunks.append(chunk[:-2])
            payload = b"".join(chunks)
        else:
            payload = b""
        if fields.get("connection", "").lower() == "close":
            await self.close()
        return status, payload

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self._writer.wait_closed()
        self._reader = self._writer = None


@dataclass
class LoadResult:
    """What a load run saw: latencies of 2xx answers (seconds), statuses, elapsed wall time."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    elapsed: float = 0.0
    #: perf_counter() when each 2xx answer arrived (open loop, end-to-end matching).
    accepted_at: list[float] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)

    @property
    def ok(self) -> int:
        return len(self.latencies)

    @property
    def throughput(self) -> float:
        return self.ok / self.elapsed if self.elapsed else 0.0

    def p(self, q: float) -> float:
        """Percentile q of the 2xx latencies, in milliseconds."""
        return percentile(self.latencies, q) * 1000

    @property
    def failed(self) -> int:
        return sum(n for s, n in self.statuses.items() if not 200 <= s < 300) + sum(
            self.errors.values()
        )

    def summary(self) -> str:
        return (
            f"{self.ok} ok in {self.elapsed:.1f}s = {self.throughput:.0f}/s,"
            f" p50 {self.p(50):.1f} ms, p99 {self.p(99):.1f} ms,"
            f" statuses {dict(self.statuses)}, errors {dict(self.errors)}"
        )


async def closed_loop(
    ports: list[int],
    make: Callable[[int], Request],
    *,
    connections: int,
    total: int,
    max_seconds: float,
    start_index: int = 0,
) -> LoadResult:
    """`connections` workers, each on its own keep-alive connection (spread round-robin over
    `ports`), send requests back to back until `total` were sent or `max_seconds` passed."""
    result = LoadResult()
    counter = {"next": start_index}
    end_index = start_index + total
    started = time.perf_counter()
    deadline = started + max_seconds

    async def worker(n: int) -> None:
        conn = Connection(ports[n % len(ports)])
        try:
            while counter["next"] < end_index and time.perf_counter() < deadline:
                index = counter["next"]
                counter["next"] += 1
                method, path, body, headers = make(index)
                sent = time.perf_counter()
                try:
                    status, _ = await asyncio.wait_for(
                        conn.request(method, path, body, headers), timeout=30
                    )
                except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    result.errors[type(exc).__name__] += 1
                    await conn.close()
                    continue
                result.statuses[status] += 1
                if 200 <= status < 300:
                    result.latencies.append(time.perf_counter() - sent)
        finally:
            await conn.close()

    await asyncio.gather(*(worker(n) for n in range(connections)))
    result.elapsed = time.perf_counter() - started
    return result


async def open_loop(
    ports: list[int],
    make: Callable[[int], Request],
    *,
    rate: float,
    total: int,
    max_seconds: float,
    max_connections: int = 256,
    keep_bodies: bool = False,
    grace: float = 10.0,
) -> LoadResult:
    """Send request i at start + i/rate (a steady rate, not back-pressured by answers), over a
    pool of up to `max_connections` keep-alive connections; stop sending after `total` or
    `max_seconds`, and give up on answers still missing `grace` seconds later."""
    result = LoadResult()
    idle: list[Connection] = []
    opened = {"n": 0}
    gate = asyncio.Semaphore(max_connections)
    started = time.perf_counter()
    tasks: list[asyncio.Task[None]] = []

    async def one(index: int) -> None:
        async with gate:
            reused = bool(idle)
            if idle:
                conn = idle.pop()
            else:
                conn = Connection(ports[opened["n"] % len(ports)])
                opened["n"] += 1
            method, path, body, headers = make(index)
            sent = time.perf_counter()
            try:
                status, payload = await asyncio.wait_for(
                    conn.request(method, path, body, headers), timeout=30
                )
            except asyncio.IncompleteReadError as exc:
                await conn.close()
                if exc.partial or not reused:
                    result.errors[type(exc).__name__] += 1
                    return
                # The server closed this idle keep-alive connection (uvicorn: after 5 s) before
                # it read the request: send it once more on a new connection, as clients do.
                conn = Connection(ports[index % len(ports)])
                try:
                    status, payload = await asyncio.wait_for(
                        conn.request(method, path, body, headers), timeout=30
                    )
                except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as again:
                    result.errors[type(again).__name__] += 1
                    await conn.close()
                    return
            except (TimeoutError, OSError, ValueError) as exc:
                result.errors[type(exc).__name__] += 1
                await conn.close()
                return
            done = time.perf_counter()
            idle.append(conn)
            result.statuses[status] += 1
            if 200 <= status < 300:
                result.latencies.append(done - sent)
                result.accepted_at.append(done)
                if keep_bodies:
                    result.bodies.append(payload)

    for index in range(total):
        due = started + index / rate
        now = time.perf_counter()
        if now > started + max_seconds:
            break
        if due > now:
            await asyncio.sleep(due - now)
        tasks.append(asyncio.create_task(one(index)))
    if tasks:
        _, late = await asyncio.wait(tasks, timeout=grace)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
        if late:
            result.errors["no answer within grace"] += len(late)
    result.elapsed = time.perf_counter() - started
    for conn in idle:
        await conn.close()
    return result
