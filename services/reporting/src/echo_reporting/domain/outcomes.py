"""Evaluations, the library and guests, and Moore's outcome levels as ECHO reports them.

Definitions (the range rules of `metrics`: an evaluation and its answers belong to the day their
session starts, or to the day the survey opened / the answer arrived while the session is unknown):
- evaluations_invited: people invited to the surveys of sessions in the range (the latest
  `EvaluationOpened` of each session); evaluation_responses: answers to those sessions' surveys;
  response_rate: responses / invited (null while nobody was invited);
- per question kind (satisfaction, relevance, confidence_before, confidence_after,
  intent_to_change): n scores, their mean, and their distribution over 1..5; scores of `comment`
  questions are not numbers to average and are left out; evaluation_comments: answers with a
  comment (the text stays in the region);
- confidence_change_mean: over the answers that scored both confidence before and after, the mean
  of (mean after - mean before) of each answer (paired, so it may differ from after_mean -
  before_mean when some answers skipped one side);
- intent_to_change_share: share of intent-to-change scores of 4 or 5;
- guest_attendances: guest attendance records with attended time in held sessions; distinct_guests:
  distinct `guest_id`s with attended time in sessions that were not cancelled (a guest record
  without a `guest_id`, from before guests had ids, counts as one guest); distinct_attendees:
  attending participants plus distinct guests;
- library_materials / library_recordings: library items (slides, documents, links / recordings)
  added in the range and not removed since.

Moore's levels (Moore, Green & Gallis 2009), the usual ECHO outcome frame, from these numbers:
- Level 1, participation: registrations, attendances, distinct attendees (guests included);
- Level 2, satisfaction: satisfaction and relevance means;
- Level 3B, learning, procedural knowledge ("knows how"): self-rated confidence to manage the
  topic's patients before and after the session, and the paired change. Confidence is a
  self-assessment of knowing how to act, not a test of facts, so it is 3B; Level 3A (declarative
  knowledge) needs knowledge-test questions, which the surveys do not have, and is not reported;
- Level 4, competence ("shows how", here as intent): the share intending to change practice.
Levels 5-7 (performance, patient and community health) need data the platform does not hold.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any, Protocol

from echo_contracts.events import MaterialKind, QuestionKind

from echo_reporting.domain.model import ReadModel, Row

SCORED_KINDS: tuple[str, ...] = tuple(
    k.value for k in QuestionKind if k is not QuestionKind.COMMENT
)
SCALE: tuple[int, ...] = (1, 2, 3, 4, 5)

OUTCOME_METRICS: tuple[str, ...] = (
    "guest_attendances",
    "distinct_guests",
    "distinct_attendees",
    "evaluations_invited",
    "evaluation_responses",
    "response_rate",
    "satisfaction_mean",
    "relevance_mean",
    "confidence_before_mean",
    "confidence_after_mean",
    "confidence_change_mean",
    "intent_to_change_share",
    "evaluation_comments",
    "library_materials",
    "library_recordings",
)


class Range(Protocol):
    """What `outcomes` needs of a date range (`metrics.DateRange`)."""

    def contains(self, when: date | datetime | None) -> bool: ...


def _mean(values: list[float]) -> float | None:
    return round(math.fsum(values) / len(values), 2) if values else None


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def evaluation_day(model: ReadModel, session_id: uuid.UUID | None, fallback: Any) -> Any:
    """The day an evaluation counts on: its session's start, else `fallback`."""
    session = model.rows["sessions"].get(session_id) if session_id is not None else None
    if session is not None and session["starts_at"] is not None:
        return session["starts_at"]
    return fallback


def scores_summary(responses: Iterable[Row]) -> dict[str, Any]:
    """Per question kind n, mean and distribution; confidence change; intent share; comments."""
    by_kind: dict[str, list[int]] = {k: [] for k in SCORED_KINDS}
    changes: list[float] = []
    comments = 0
    count = 0
    for response in responses:
        count += 1
        comments += bool(response["has_comment"])
        mine: dict[str, list[int]] = {}
        for _question, kind, value in response["scores"]:
            if kind in by_kind:
                by_kind[kind].append(value)
                mine.setdefault(kind, []).append(value)
        before, after = mine.get("confidence_before"), mine.get("confidence_after")
        if before and after:
            changes.append(sum(after) / len(after) - sum(before) / len(before))
    intent = by_kind["intent_to_change"]
    return {
        "responses": count,
        "comments": comments,
        "kinds": {
            kind: {
                "n": len(values),
                "mean": _mean([float(v) for v in values]),
                "distribution": {str(v): values.count(v) for v in SCALE},
            }
            for kind, values in by_kind.items()
        },
        "confidence": {
            "before_mean": _mean([float(v) for v in by_kind["confidence_before"]]),
            "after_mean": _mean([float(v) for v in by_kind["confidence_after"]]),
            "paired_responses": len(changes),
            "change_mean": _mean(changes),
        },
        "intent_to_change_share": _share(sum(1 for v in intent if v >= 4), len(intent)),
    }


def evaluations_in(model: ReadModel, rng: Range) -> tuple[list[Row], list[Row]]:
    """The evaluations (one per session) and the answers that count in `rng`."""
    rows = model.rows
    evaluations = [
        e
        for e in rows["evaluations"].values()
        if rng.contains(evaluation_day(model, e["id"], e["opened_at"]))
    ]
    responses = [
        r
        for r in rows["responses"].values()
        if rng.contains(evaluation_day(model, r["session_id"], r["submitted_at"]))
    ]
    return evaluations, responses


def outcome_metrics(
    model: ReadModel,
    rng: Range,
    *,
    attended: list[Row],
    held: Callable[[Row], bool],
    attending_participants: int,
) -> dict[str, Any]:
    """The flat outcome metrics of `model` over `rng` (see the module docstring).

    `attended` are the attendance rows with time in non-cancelled sessions of the range, `held`
    says whether one of them is in a held session (both as `metrics.compute` decides them).
    """
    guests = [a for a in attended if a["guest"]]
    distinct = {a["guest_id"] or ("record", a["id"]) for a in guests}
    evaluations, responses = evaluations_in(model, rng)
    invited = sum(e["invited"] for e in evaluations)
    summary = scores_summary(responses)
    kinds = summary["kinds"]
    library = [
        m
        for m in model.rows["materials"].values()
        if m["removed_at"] is None and rng.contains(m["added_at"])
    ]
    return {
        "guest_attendances": sum(1 for a in guests if held(a)),
        "distinct_guests": len(distinct),
        "distinct_attendees": attending_participants + len(distinct),
        "evaluations_invited": invited,
        "evaluation_responses": summary["responses"],
        "response_rate": _share(summary["responses"], invited),
        "satisfaction_mean": kinds["satisfaction"]["mean"],
        "relevance_mean": kinds["relevance"]["mean"],
        "confidence_before_mean": summary["confidence"]["before_mean"],
        "confidence_after_mean": summary["confidence"]["after_mean"],
        "confidence_change_mean": summary["confidence"]["change_mean"],
        "intent_to_change_share": summary["intent_to_change_share"],
        "evaluation_comments": summary["comments"],
        "library_materials": sum(1 for m in library if m["kind"] != MaterialKind.RECORDING.value),
        "library_recordings": sum(1 for m in library if m["kind"] == MaterialKind.RECORDING.value),
    }


def moore_levels(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """Moore's levels 1, 2, 3B and 4 from a metrics dict (see the module docstring)."""
    return [
        {
            "level": "1",
            "name": "Participation",
            "measures": {
                "registrations": metrics.get("registrations"),
                "attendances": metrics["attendances"],
                "distinct_attendees": metrics["distinct_attendees"],
                "distinct_guests": metrics["distinct_guests"],
            },
        },
        {
            "level": "2",
            "name": "Satisfaction",
            "measures": {
                "satisfaction_mean": metrics["satisfaction_mean"],
                "relevance_mean": metrics["relevance_mean"],
                "responses": metrics["evaluation_responses"],
                "response_rate": metrics["response_rate"],
            },
        },
        {
            "level": "3B",
            "name": "Learning: procedural knowledge (self-rated confidence)",
            "measures": {
                "confidence_before_mean": metrics["confidence_before_mean"],
                "confidence_after_mean": metrics["confidence_after_mean"],
                "confidence_change_mean": metrics["confidence_change_mean"],
            },
        },
        {
            "level": "4",
            "name": "Competence: intent to change practice",
            "measures": {"intent_to_change_share": metrics["intent_to_change_share"]},
        },
    ]


def evaluation_detail(model: ReadModel, rng: Range) -> dict[str, Any]:
    """Invited, responses, rate and the score summary of the evaluations in `rng`."""
    evaluations, responses = evaluations_in(model, rng)
    invited = sum(e["invited"] for e in evaluations)
    summary = scores_summary(responses)
    return {
        "invited": invited,
        "responses": summary["responses"],
        "response_rate": _share(summary["responses"], invited),
        **{k: v for k, v in summary.items() if k != "responses"},
    }


def of_session(model: ReadModel, session_id: uuid.UUID) -> ReadModel:
    """Only the rows about one session: the session, its attendance, evaluation and answers."""

    def keep(kind: str, row: Row) -> bool:
        if kind in ("sessions", "evaluations"):
            return bool(row["id"] == session_id)
        if kind in ("attendance", "responses", "materials"):
            return bool(row["session_id"] == session_id)
        return False

    return model.where(keep)


def by_session(model: ReadModel) -> dict[uuid.UUID, ReadModel]:
    """`of_session` for every session at once (one pass over the rows)."""
    parts: dict[uuid.UUID, ReadModel] = {}

    def part(key: uuid.UUID) -> ReadModel:
        if key not in parts:
            parts[key] = ReadModel()
        return parts[key]

    for kind in ("sessions", "evaluations"):
        for key, row in model.rows[kind].items():
            part(key).rows[kind][key] = row
    for kind in ("attendance", "responses", "materials"):
        for key, row in model.rows[kind].items():
            if row["session_id"] is not None:
                part(row["session_id"]).rows[kind][key] = row
    return parts


def report_sessions(model: ReadModel, rng: Range) -> list[uuid.UUID]:
    """Sessions in `rng` that had a survey or answers, or were not cancelled; by start, then id."""
    rows = model.rows
    found: dict[uuid.UUID, Any] = {}
    for key, s in rows["sessions"].items():
        if not s["cancelled"] and rng.contains(s["starts_at"]):
            found[key] = s["starts_at"]
    for e in rows["evaluations"].values():
        when = evaluation_day(model, e["id"], e["opened_at"])
        if rng.contains(when):
            found[e["id"]] = when
    for r in rows["responses"].values():
        when = evaluation_day(model, r["session_id"], r["submitted_at"])
        if r["session_id"] is not None and rng.contains(when):
            found.setdefault(r["session_id"], when)
    return sorted(found, key=lambda k: (found[k], str(k)))


FLAT_EVALUATION: tuple[str, ...] = (
    "invited",
    "responses",
    "response_rate",
    "comments",
    "confidence_before_mean",
    "confidence_after_mean",
    "confidence_change_mean",
    "paired_responses",
    "intent_to_change_share",
    *(f"{kind}_{part}" for kind in SCORED_KINDS for part in ("n", "mean", *map(str, SCALE))),
)


def flat_evaluation(detail: dict[str, Any]) -> dict[str, Any]:
    """`evaluation_detail` as one flat row (the CSV columns `FLAT_EVALUATION`)."""
    row: dict[str, Any] = {
        "invited": detail["invited"],
        "responses": detail["responses"],
        "response_rate": detail["response_rate"],
        "comments": detail["comments"],
        "confidence_before_mean": detail["confidence"]["before_mean"],
        "confidence_after_mean": detail["confidence"]["after_mean"],
        "confidence_change_mean": detail["confidence"]["change_mean"],
        "paired_responses": detail["confidence"]["paired_responses"],
        "intent_to_change_share": detail["intent_to_change_share"],
    }
    for kind, stats in detail["kinds"].items():
        row[f"{kind}_n"] = stats["n"]
        row[f"{kind}_mean"] = stats["mean"]
        for value, n in stats["distribution"].items():
            row[f"{kind}_{value}"] = n
    return row
