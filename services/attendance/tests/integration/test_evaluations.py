"""Post-session evaluations over real NATS and both databases: reach, once, rules, privacy."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from echo_attendance.adapters.tables import evaluation_responses
from echo_runtime.clock import ManualClock
from echo_runtime.testing import eventually, token

pytestmark = pytest.mark.integration

JOINED = "meeting.participant_joined"
LEFT = "meeting.participant_left"
COMMENT_TEXT = "The hepatitis talk changed how I screen"

FORM: dict[str, Any] = {
    "questions": [
        {"code": "satisfaction", "kind": "satisfaction", "text": "How satisfied were you?"},
        {"code": "relevance", "kind": "relevance", "text": "How relevant to your practice?"},
        {"code": "conf.before", "kind": "confidence_before", "text": "Confidence before"},
        {"code": "conf.after", "kind": "confidence_after", "text": "Confidence after"},
        {
            "code": "intent",
            "kind": "intent_to_change",
            "text": "Will you change your practice?",
            "required": False,
        },
        {"code": "comment", "kind": "comment", "text": "Anything else?", "required": False},
    ],
    "anonymous": False,
    "send_after_minutes": 30,
    "open_days": 7,
}
GOOD = {"satisfaction": 5, "relevance": 4, "conf.before": 2, "conf.after": 4}


async def _attend(w: Any, kit: Any, start: float, end: float, **who: Any) -> None:
    t0 = kit.SESSION_START
    for event, minute in ((JOINED, start), (LEFT, end)):
        body = kit.zoom_body(event, w.meeting_id, "i1", t0 + timedelta(minutes=minute), **who)
        r = await w.zoom(body)
        assert r.status_code == 200, r.text


def _token_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


def _fields(r: Any) -> set[str]:
    return {e["field"] for e in r.json().get("errors", [])}


async def test_survey_reaches_only_attendees_once_and_answers_follow_the_rules(
    kit: Any, database_url: str, nats_server: Any, js: Any
) -> None:
    clock = ManualClock(kit.SESSION_END + timedelta(minutes=1))
    async with kit.world(database_url, nats_server.url, js, clock=clock) as w:
        await w.schedule()
        await w.link_meeting()
        a = await w.participant("a@example.org")
        b = await w.participant("b@example.org")
        c = await w.participant("c@example.org")  # registered, never attended
        d = await w.participant("d@example.org")
        await _attend(w, kit, 0, 90, email="a@example.org", user_id="1")
        await _attend(w, kit, 0, 30, email="b@example.org", user_id="2")  # below credit: asked too
        await _attend(w, kit, 10, 100, email="d@example.org", user_id="4")
        await _attend(w, kit, 0, 100, email="walk.in@example.org", user_id="9")  # a guest
        form_url = f"/v1/programmes/{w.programme_id}/evaluation-form"
        send_url = f"/v1/sessions/{w.session_id}/evaluations/send"

        # Bad forms: each a 422 naming the field, and no form is stored.
        bad_forms = {
            "questions": {**FORM, "questions": []},
            "questions[1].code": {
                **FORM,
                "questions": [FORM["questions"][0], FORM["questions"][0]],
            },
            "questions[1].kind": {
                **FORM,
                "questions": [
                    {"code": "c1", "kind": "comment", "text": "one"},
                    {"code": "c2", "kind": "comment", "text": "two"},
                ],
            },
            "questions.0.kind": {
                **FORM,
                "questions": [{"code": "x", "kind": "happiness", "text": "?"}],
            },
        }
        too_many = [
            {"code": f"q{i}", "kind": "satisfaction", "text": f"Question {i}"} for i in range(21)
        ]
        bad_forms["questions "] = {**FORM, "questions": too_many}
        for field, body in bad_forms.items():
            r = await w.client.put(form_url, headers=w.admin, json=body)
            assert r.status_code == 422, (field, r.text)
            assert field.strip() in _fields(r) or field.strip() in r.json()["detail"], r.text
        assert (await w.client.get(form_url, headers=w.admin)).status_code == 404
        # Sending needs a form: a clear 404, and nothing is claimed.
        r = await w.client.post(send_url, headers=w.admin)
        assert r.status_code == 404 and "evaluation-form" in r.json()["detail"]
        # Only a hub-admin changes the form.
        r = await w.client.put(form_url, headers=token("facilitator"), json=FORM)
        assert r.status_code == 403

        # Two hub-admins save at once: both versions are kept, one after the other.
        puts = await asyncio.gather(
            w.client.put(form_url, headers=w.admin, json={**FORM, "anonymous": True}),
            w.client.put(form_url, headers=w.admin, json=FORM),
        )
        assert [r.status_code for r in puts] == [200, 200], [r.text for r in puts]
        assert sorted(r.json()["version"] for r in puts) == [1, 2]
        r = await w.client.put(form_url, headers=w.admin, json=FORM)
        assert r.status_code == 200, r.text
        assert r.json()["version"] == 3
        got = await w.client.get(form_url, headers=token("spoke"))
        assert got.status_code == 200 and len(got.json()["questions"]) == 6

        # Before the programme's delay (30 min) the background sender waits.
        assert w.sender is not None
        early = await w.sender.tick()
        assert early.sent == [] and early.waiting == 1
        # A spoke may not send; then two staff calls and the background sender race.
        assert (await w.client.post(send_url, headers=token("spoke"))).status_code == 403
        # Not before the session has ended: a 409 saying when it ends; nothing is claimed.
        clock.set(kit.SESSION_START + timedelta(minutes=50))
        r = await w.client.post(send_url, headers=w.admin)
        assert r.status_code == 409 and "after it ends" in r.json()["detail"]
        clock.set(kit.SESSION_END + timedelta(minutes=41))
        fac = token("facilitator")
        first, second, tick = await asyncio.gather(
            w.client.post(send_url, headers=fac),
            w.client.post(send_url, headers=w.admin),
            w.sender.tick(),
        )
        assert first.status_code == 200 and second.status_code == 200, (first.text, second.text)
        sent_now = [first.json()["sent_now"], second.json()["sent_now"], bool(tick.sent)]
        assert sent_now.count(True) == 1, sent_now
        assert first.json()["invited"] == 3 and second.json()["invited"] == 3
        # A second instance on the same database (a restart, a replica) sends nothing either.
        async with kit.world(database_url, None, None, clock=clock) as other:
            again = await other.client.post(send_url, headers=w.admin)
            assert again.status_code == 200 and again.json()["sent_now"] is False
            assert other.sender is not None and (await other.sender.tick()).sent == []

        async def requested() -> list[Any]:
            events = await kit.stream_events(js, "evaluation_requested")
            opened = await kit.stream_events(js, "evaluation_opened")
            return [events, opened] if len(events) >= 3 and opened else []

        requests, opened = await eventually(requested, timeout=30)
        per_person = {e.data.participant_id: 0 for e in requests}
        for e in requests:
            per_person[e.data.participant_id] += 1
        assert per_person == {uuid.UUID(p["id"]): 1 for p in (a, b, d)}  # not c, not the guest
        assert [e.data.invited for e in opened] == [3]
        links = {str(e.data.participant_id): _token_of(e.data.response_url) for e in requests}

        link_a = f"/v1/evaluations/{links[a['id']]}"
        shown = await w.client.get(link_a)
        assert shown.status_code == 200, shown.text
        assert [q["code"] for q in shown.json()["questions"]][:2] == ["satisfaction", "relevance"]

        # Bad answers: each a clear 422 naming the question; nothing is stored.
        bad_answers = {
            "answers.satisfaction": {**GOOD, "satisfaction": 0},
            "answers.relevance": {**GOOD, "relevance": 6},
            "answers.empathy": {**GOOD, "empathy": 3},
            "answers.conf.after": {k: v for k, v in GOOD.items() if k != "conf.after"},
            "answers.comment": {**GOOD, "comment": "x" * 2001},
        }
        for field, answers in bad_answers.items():
            r = await w.client.post(link_a, json={"answers": answers})
            assert r.status_code == 422, (field, r.text)
            assert field in _fields(r), (field, r.text)
        forged = links[a["id"]][:-3] + ("AAA" if not links[a["id"]].endswith("AAA") else "BBB")
        r = await w.client.post(f"/v1/evaluations/{forged}", json={"answers": GOOD})
        assert r.status_code == 401 and "not valid" in r.json()["detail"]
        r = await w.client.post("/v1/evaluations/not-a-token", json={"answers": GOOD})
        assert r.status_code == 401
        listing = f"/v1/sessions/{w.session_id}/evaluations"
        assert (await w.client.get(listing, headers=w.admin)).json()["total"] == 0

        # One answer per person: the first counts, the second is a 409 saying why.
        ok = await w.client.post(link_a, json={"answers": {**GOOD, "comment": COMMENT_TEXT}})
        assert ok.status_code == 201, ok.text
        twice = await w.client.post(link_a, json={"answers": GOOD})
        assert twice.status_code == 409 and "already answered" in twice.json()["detail"]

        # A spoke answers with their own token; the same person through the link is refused.
        own = f"/v1/sessions/{w.session_id}/evaluation"
        spoke_b = token("spoke", subject=b["id"])
        assert (await w.client.get(own, headers=spoke_b)).status_code == 200
        r = await w.client.post(own, headers=spoke_b, json={"answers": {**GOOD, "intent": 3}})
        assert r.status_code == 201, r.text
        r = await w.client.post(f"/v1/evaluations/{links[b['id']]}", json={"answers": GOOD})
        assert r.status_code == 409
        # Someone who did not attend is refused (403), registered or not.
        for who in (c["id"], str(uuid.uuid4())):
            r = await w.client.post(
                own, headers=token("spoke", subject=who), json={"answers": GOOD}
            )
            assert r.status_code == 403, r.text
            assert "attended" in r.json()["detail"]

        # Staff see both answers, with respondents (the form is not anonymous) and comments.
        assert (await w.client.get(listing, headers=token("observer"))).status_code == 403
        page = (await w.client.get(listing, headers=token("facilitator"))).json()
        assert page["total"] == 2
        by_person = {item["respondent_id"]: item for item in page["items"]}
        assert set(by_person) == {a["id"], b["id"]}
        assert by_person[a["id"]]["comment"] == COMMENT_TEXT
        assert by_person[a["id"]]["scores"]["satisfaction"] == 5

        summary = await w.client.get(
            f"/v1/programmes/{w.programme_id}/evaluation-summary", headers=token("observer")
        )
        assert summary.status_code == 200, summary.text
        s = summary.json()
        assert (s["invited"], s["responses"], s["comments"]) == (3, 2, 1)
        assert s["response_rate"] == pytest.approx(2 / 3, abs=1e-3)
        averages = {q["code"]: (q["answers"], q["average"]) for q in s["questions"]}
        assert averages["satisfaction"] == (2, 5.0) and averages["intent"] == (1, 3.0)

        # Scores reach NATS; the comment and the respondent do not.
        submitted = await eventually(
            lambda: _at_least(kit.stream_events(js, "evaluation_submitted"), 2), timeout=30
        )
        assert len(submitted) == 2
        assert {e.data.has_comment for e in submitted} == {True, False}
        bodies = [m.data.decode() for m in await kit.stream_messages(js)]
        assert not any(COMMENT_TEXT in body for body in bodies)
        for e in submitted:
            payload = json.loads(e.data.model_dump_json())
            assert "participant_id" not in payload

        # Two answers of one person at once (link and token): exactly one is kept.
        d_link = f"/v1/evaluations/{links[d['id']]}"
        d_own = token("spoke", subject=d["id"])
        racing = await asyncio.gather(
            w.client.post(d_link, json={"answers": GOOD}),
            w.client.post(own, headers=d_own, json={"answers": GOOD}),
        )
        assert sorted(r.status_code for r in racing) == [201, 409], [r.text for r in racing]

        # After the evaluation closes, answers are refused (410) by link and by token.
        clock.advance(timedelta(days=8))
        r = await w.client.post(f"/v1/evaluations/{links[d['id']]}", json={"answers": GOOD})
        assert r.status_code == 410 and "closed" in r.json()["detail"]
        r = await w.client.post(
            own, headers=token("spoke", subject=d["id"]), json={"answers": GOOD}
        )
        assert r.status_code == 410
        assert (await w.client.get(listing, headers=w.admin)).json()["total"] == 3


async def _at_least(pending: Any, n: int) -> list[Any]:
    events: list[Any] = await pending
    return events if len(events) >= n else []


async def test_anonymous_form_hides_the_respondent_but_still_allows_one_answer(
    kit: Any, database_url: str, nats_server: Any, js: Any
) -> None:
    # The background sender runs for real here, on a clock that starts before the session ends.
    clock = ManualClock(kit.SESSION_START)
    async with kit.world(
        database_url,
        nats_server.url,
        js,
        clock=clock,
        evaluation_sender=True,
        evaluation_interval_seconds=0.1,
    ) as w:
        await w.schedule()
        await w.link_meeting()
        a = await w.participant("anon.a@example.org")
        await _attend(w, kit, 0, 100, email="anon.a@example.org", user_id="1")
        form_url = f"/v1/programmes/{w.programme_id}/evaluation-form"
        r = await w.client.put(form_url, headers=w.admin, json={**FORM, "anonymous": False})
        assert r.json()["version"] == 1
        r = await w.client.put(form_url, headers=w.admin, json={**FORM, "anonymous": True})
        assert r.status_code == 200 and r.json()["version"] == 2 and r.json()["anonymous"]

        # Once the session has ended and the delay passed, the background sender sends it.
        own = f"/v1/sessions/{w.session_id}/evaluation"
        me = token("spoke", subject=a["id"])
        not_yet = await w.client.get(own, headers=me)
        assert not_yet.status_code == 404 and "not been sent" in not_yet.json()["detail"]
        clock.set(kit.SESSION_END + timedelta(minutes=31))

        async def sent() -> bool:
            return (await w.client.get(own, headers=me)).status_code == 200

        await eventually(sent, timeout=30)
        again = await w.client.post(
            f"/v1/sessions/{w.session_id}/evaluations/send", headers=w.admin
        )
        assert again.json()["sent_now"] is False and again.json()["trigger"] == "schedule"
        shown = await w.client.get(own, headers=me)
        assert shown.status_code == 200 and shown.json()["anonymous"] is True
        assert shown.json()["form_version"] == 2
        r = await w.client.post(own, headers=me, json={"answers": {**GOOD, "comment": "fine"}})
        assert r.status_code == 201, r.text
        r = await w.client.post(own, headers=me, json={"answers": GOOD})
        assert r.status_code == 409

        page = (
            await w.client.get(f"/v1/sessions/{w.session_id}/evaluations", headers=w.admin)
        ).json()
        assert page["total"] == 1
        [item] = page["items"]
        assert item["respondent_id"] is None and item["anonymous"] is True
        assert item["comment"] == "fine" and item["form_version"] == 2
        # Not in the database either: no stored link from the response to the person.
        async with w.runtime.db.session() as session:
            stored = (await session.execute(sa.select(evaluation_responses))).mappings().all()
        assert [row["participant_id"] for row in stored] == [None]
        assert a["id"] not in json.dumps([dict(row) for row in stored], default=str)


async def test_the_emailed_link_opens_a_page_that_takes_the_answer(
    kit: Any, database_url: str, nats_server: Any, js: Any
) -> None:
    clock = ManualClock(kit.SESSION_END + timedelta(hours=1))
    async with kit.world(database_url, nats_server.url, js, clock=clock) as w:
        await w.schedule()
        await w.link_meeting()
        a = await w.participant("page.a@example.org")
        await _attend(w, kit, 0, 100, email="page.a@example.org", user_id="1")
        r = await w.client.put(
            f"/v1/programmes/{w.programme_id}/evaluation-form", headers=w.admin, json=FORM
        )
        assert r.status_code == 200
        sent = await w.client.post(f"/v1/sessions/{w.session_id}/evaluations/send", headers=w.admin)
        assert sent.json()["invited"] == 1
        [requested] = await eventually(
            lambda: _at_least(kit.stream_events(js, "evaluation_requested"), 1), timeout=30
        )
        assert str(requested.data.participant_id) == a["id"]
        path = "/v1/evaluations/" + _token_of(requested.data.response_url)
        assert requested.data.response_url.startswith("http://127.0.0.1:8103/v1/evaluations/")

        browser = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
        page = await w.client.get(path, headers=browser)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        html = page.text
        assert "How satisfied were you?" in html and 'name="conf.after" value="5"' in html
        assert f'action="{path}/form"' in html and "<script" not in html
        # An API client still gets JSON from the same URL.
        assert (await w.client.get(path)).json()["form_version"] == 1

        form = {"content-type": "application/x-www-form-urlencoded", **browser}
        # A missing required answer comes back as the form, naming the question; nothing stored.
        bad = await w.client.post(
            f"{path}/form", headers=form, content="satisfaction=5&relevance=4&conf.before=2"
        )
        assert bad.status_code == 422 and "this question needs an answer" in bad.text
        listing = f"/v1/sessions/{w.session_id}/evaluations"
        assert (await w.client.get(listing, headers=w.admin)).json()["total"] == 0
        body = "satisfaction=5&relevance=4&conf.before=2&conf.after=5&comment=Very+useful"
        ok = await w.client.post(f"{path}/form", headers=form, content=body)
        assert ok.status_code == 201 and "Thank you" in ok.text
        again = await w.client.post(f"{path}/form", headers=form, content=body)
        assert again.status_code == 409 and "already answered" in again.text
        forged = await w.client.post(f"{path}x/form", headers=form, content=body)
        assert forged.status_code == 401
        [item] = (await w.client.get(listing, headers=w.admin)).json()["items"]
        assert item["scores"]["conf.after"] == 5 and item["comment"] == "Very useful"


async def test_the_background_sender_waits_for_attendance_entered_later(
    kit: Any, database_url: str, nats_server: Any, js: Any
) -> None:
    clock = ManualClock(kit.SESSION_END + timedelta(minutes=5))
    async with kit.world(database_url, nats_server.url, js, clock=clock) as w:
        await w.schedule()
        person = await w.participant("late.entry@example.org")
        r = await w.client.put(
            f"/v1/programmes/{w.programme_id}/evaluation-form",
            headers=w.admin,
            json={**FORM, "send_after_minutes": 0},
        )
        assert r.status_code == 200
        assert w.sender is not None
        idle = await w.sender.tick()
        assert idle.sent == [] and idle.waiting == 1
        # The facilitator enters the attendance the next morning; the next tick sends.
        clock.advance(timedelta(hours=15))
        r = await w.client.post(
            f"/v1/sessions/{w.session_id}/attendance",
            headers=token("facilitator"),
            json={
                "participant_id": person["id"],
                "attended_minutes": 90,
                "reason": "video tool was down",
            },
        )
        assert r.status_code == 200, r.text
        assert (await w.sender.tick()).sent == [w.session_id]
        assert (await w.sender.tick()).sent == []
        opened = await eventually(
            lambda: _at_least(kit.stream_events(js, "evaluation_opened"), 1), timeout=30
        )
        assert [e.data.invited for e in opened] == [1]
