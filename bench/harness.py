"""The shared harness: rows of results, repeats, medians, ratios, the table and the JSON file."""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T", int, float)

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def median(values: list[float]) -> float:
    clean = [v for v in values if not math.isnan(v)]
    return statistics.median(clean) if clean else math.nan


@dataclass
class Row:
    """One figure of the table: a value per repeat, its baseline per repeat, and the goal."""

    figure: str
    metric: str
    unit: str
    values: list[float] = field(default_factory=list)
    baseline: list[float] | None = None
    baseline_name: str = ""
    #: Goal: median/baseline-median >= min_ratio (throughputs) ...
    min_ratio: float | None = None
    #: ... and/or median <= max_value (latencies, memory).
    max_value: float | None = None
    goal: str = ""
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def median(self) -> float:
        return median(self.values)

    @property
    def baseline_median(self) -> float | None:
        return None if self.baseline is None else median(self.baseline)

    @property
    def ratio(self) -> float | None:
        base = self.baseline_median
        if base is None or math.isnan(base) or base == 0:
            return None
        return self.median / base

    @property
    def met(self) -> bool | None:
        if self.min_ratio is None and self.max_value is None:
            return None
        if math.isnan(self.median):
            return False
        ok = True
        if self.min_ratio is not None:
            ratio = self.ratio
            ok = ok and ratio is not None and ratio >= self.min_ratio
        if self.max_value is not None:
            ok = ok and self.median <= self.max_value
        return ok

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            median=_num(self.median),
            baseline_median=_num(self.baseline_median),
            ratio=_num(self.ratio),
            met=self.met,
        )
        data["values"] = [_num(v) for v in self.values]
        data["baseline"] = None if self.baseline is None else [_num(v) for v in self.baseline]
        return data


def _num(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(value, 3)


def fmt(value: float | None, unit: str = "") -> str:
    if value is None or math.isnan(value):
        return "-"
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".strip()


def table(rows: list[Row]) -> str:
    """The results as a Markdown table (medians of the repeats, ratio to the baseline)."""
    head = ["figure", "metric", "median", "baseline (median)", "ratio", "goal", "met", "runs"]
    lines = [head]
    for r in rows:
        base = (
            f"{fmt(r.baseline_median, r.unit)} ({r.baseline_name})"
            if r.baseline is not None
            else "-"
        )
        ratio = r.ratio
        met = {True: "yes", False: "NO", None: "-"}[r.met]
        runs = ", ".join(fmt(v) for v in r.values)
        lines.append(
            [
                r.figure,
                r.metric,
                fmt(r.median, r.unit),
                base,
                "-" if ratio is None else f"{ratio:.0%}",
                r.goal or "-",
                met,
                runs,
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    out = []
    for n, line in enumerate(lines):
        out.append("| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |")
        if n == 0:
            out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


def write_json(rows: list[Row], meta: dict[str, Any], directory: Path = RESULTS_DIR) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{meta['started']}.json"
    path.write_text(json.dumps({"meta": meta, "rows": [r.as_json() for r in rows]}, indent=2))
    return path


async def repeat(
    times: int,
    once: Callable[[int], Awaitable[dict[str, float]]],
    log: Callable[[str], None],
    label: str,
) -> dict[str, list[float]]:
    """Run `once(i)` `times` times; collect each named value per repeat."""
    collected: dict[str, list[float]] = {}
    for i in range(times):
        started = time.perf_counter()
        values = await once(i)
        shown = ", ".join(f"{k}={fmt(v)}" for k, v in values.items())
        log(f"  {label} run {i + 1}/{times} ({time.perf_counter() - started:.1f}s): {shown}")
        for key, value in values.items():
            collected.setdefault(key, []).append(value)
    return collected


def say(message: str) -> None:
    print(message, flush=True)


@dataclass(frozen=True)
class Options:
    """What the command line chose."""

    quick: bool = False
    repeats: int = 3
    rebuild_events: int = 30_000
    #: Events in the region for the reports figure, one run each.
    report_sizes: tuple[int, ...] = (10_000, 100_000)
    #: Where `--profile` writes py-spy profiles of the first repeat (None: no profiling).
    profile_dir: Path | None = None

    def profile_to(self, repeat_index: int) -> Path | None:
        """The profile folder for this repeat: the first one only, when profiling."""
        return self.profile_dir if repeat_index == 0 else None

    def pick(self, quick: T, full: T) -> T:
        return quick if self.quick else full
