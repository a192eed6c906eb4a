"""Precision and recall of the PHI screener on the labelled corpus, per category.

Run: `.venv/bin/python services/cases/tests/measure_screener.py` (add `--misses` to list what was
missed or wrongly flagged, `--bench` to time screening of a 2 KB case).

Two sets: `corpus/phi.txt` + `corpus/clean.txt` (development: the screener was tuned on them)
and `corpus/*_holdout.txt` (written afterwards and never tuned on: the honest numbers).

Counting: a labelled identifier is *found* when any finding overlaps it (the case is refused
either way) and *found as its category* when a finding of the same category overlaps it. A
finding is a *true positive* when it overlaps any labelled identifier. A clean text is *falsely
rejected* when the screener finds anything in it.
"""

from __future__ import annotations

import re
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from echo_cases.adapters.phi_screener import RegexPhiScreener
from echo_cases.domain.screening import PhiCategory, Span

CORPUS = Path(__file__).resolve().parent / "corpus"
_MARK = re.compile(r"\{\{([a-z0-9_]+):(.+?)\}\}")

RECALL_TARGET = 0.95
FALSE_REJECTION_LIMIT = 0.05


@dataclass(frozen=True)
class Labelled:
    text: str
    spans: tuple[Span, ...]


def parse(line: str) -> Labelled:
    """Strip the {{category:value}} marks, keeping where each value sits in the plain text."""
    out: list[str] = []
    spans: list[Span] = []
    pos = 0
    length = 0
    for m in _MARK.finditer(line):
        before = line[pos : m.start()]
        out.append(before)
        length += len(before)
        value = m.group(2)
        spans.append(Span(length, length + len(value), PhiCategory(m.group(1))))
        out.append(value)
        length += len(value)
        pos = m.end()
    out.append(line[pos:])
    return Labelled("".join(out), tuple(spans))


def load(name: str) -> list[Labelled]:
    lines = (CORPUS / name).read_text(encoding="utf-8").splitlines()
    return [parse(line) for line in lines if line.strip() and not line.startswith("#")]


def _overlaps(a: Span, b: Span) -> bool:
    return a.start < b.end and b.start < a.end


@dataclass
class Report:
    identifiers: int
    found: int
    per_category: dict[str, tuple[int, int, int, int]]  # labelled, found as it, flagged, true
    clean_texts: int
    clean_rejected: int
    misses: list[str]
    false_alarms: list[str]

    @property
    def recall(self) -> float:
        return self.found / self.identifiers if self.identifiers else 1.0

    @property
    def false_rejection(self) -> float:
        return self.clean_rejected / self.clean_texts if self.clean_texts else 0.0

    def lines(self) -> list[str]:
        rows = [
            f"{'category':24} {'labelled':>8} {'recall':>7} {'flagged':>8} {'precision':>9}",
        ]
        for cat, (labelled, hit, flagged, true) in sorted(self.per_category.items()):
            recall = f"{hit / labelled:.2f}" if labelled else "-"
            precision = f"{true / flagged:.2f}" if flagged else "-"
            rows.append(f"{cat:24} {labelled:8d} {recall:>7} {flagged:8d} {precision:>9}")
        rows.append("")
        rows.append(
            f"identifiers found: {self.found}/{self.identifiers} = recall {self.recall:.3f}"
            f" (target >= {RECALL_TARGET})"
        )
        rows.append(
            f"clean texts rejected: {self.clean_rejected}/{self.clean_texts}"
            f" = {self.false_rejection:.3f} (limit <= {FALSE_REJECTION_LIMIT})"
        )
        return rows


def measure(screener: RegexPhiScreener | None = None, *, holdout: bool = False) -> Report:
    screener = screener or RegexPhiScreener()
    labelled: Counter[str] = Counter()
    hit_as: Counter[str] = Counter()
    flagged: Counter[str] = Counter()
    true: Counter[str] = Counter()
    found = identifiers = 0
    misses: list[str] = []
    false_alarms: list[str] = []
    suffix = "_holdout" if holdout else ""
    for item in load(f"phi{suffix}.txt"):
        findings = screener.scan(item.text)
        for gold in item.spans:
            identifiers += 1
            labelled[gold.category.value] += 1
            overlapping = [f for f in findings if _overlaps(f, gold)]
            if overlapping:
                found += 1
            else:
                misses.append(f"{gold.category.value}: {item.text[gold.start : gold.end]!r}")
            if any(f.category is gold.category for f in overlapping):
                hit_as[gold.category.value] += 1
        for f in findings:
            flagged[f.category.value] += 1
            if any(_overlaps(f, gold) for gold in item.spans):
                true[f.category.value] += 1
            else:
                false_alarms.append(f"{f.category.value}: {item.text[f.start : f.end]!r}")
    clean = load(f"clean{suffix}.txt")
    rejected = 0
    for item in clean:
        findings = screener.scan(item.text)
        if findings:
            rejected += 1
        for f in findings:
            flagged[f.category.value] += 1
            false_alarms.append(f"{f.category.value}: {item.text[f.start : f.end]!r} (clean)")
    categories = set(labelled) | set(flagged)
    return Report(
        identifiers=identifiers,
        found=found,
        per_category={c: (labelled[c], hit_as[c], flagged[c], true[c]) for c in sorted(categories)},
        clean_texts=len(clean),
        clean_rejected=rejected,
        misses=misses,
        false_alarms=false_alarms,
    )


def bench(rounds: int = 200) -> float:
    """Median milliseconds to screen a 2 KB case text."""
    screener = RegexPhiScreener()
    clean = " ".join(item.text for item in load("clean.txt"))
    text = clean[:2048]
    screener.scan(text)
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        screener.scan(text)
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def main(argv: list[str]) -> int:
    holdout = measure(holdout=True)
    print("== held-out set (never tuned on)", *holdout.lines(), sep="\n")
    report = measure()
    print("\n== development set", *report.lines(), sep="\n")
    if "--misses" in argv:
        print("\nheld-out missed:", *holdout.misses, sep="\n  ")
        print("\nheld-out flagged without a label:", *holdout.false_alarms, sep="\n  ")
    if "--misses" in argv:
        print("\nmissed:", *report.misses, sep="\n  ")
        print("\nflagged without a label:", *report.false_alarms, sep="\n  ")
    if "--bench" in argv:
        print(f"\nscreening a 2 KB case: median {bench():.1f} ms (target < 50 ms)")
    ok = report.recall >= RECALL_TARGET and report.false_rejection <= FALSE_REJECTION_LIMIT
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
