"""The emailed evaluation link in a real headless Chromium: the page renders, is filled, is sent."""

from __future__ import annotations

import asyncio
import itertools
import json
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from echo_runtime.clock import ManualClock
from echo_runtime.natsserver import free_port
from echo_runtime.testing import eventually
from websockets.asyncio.client import connect

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
FORM: dict[str, Any] = {
    "questions": [
        {"code": "satisfaction", "kind": "satisfaction", "text": "How satisfied were you?"},
        {"code": "relevance", "kind": "relevance", "text": "How relevant was it?"},
        {"code": "comment", "kind": "comment", "text": "Anything else?", "required": False},
    ],
    "send_after_minutes": 0,
    "open_days": 7,
}


@asynccontextmanager
async def _serving(app: Any) -> AsyncIterator[int]:
    """The already started service's app on a real port (its lifespan is run by the test world)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, lifespan="off", log_config=None, access_log=False
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    try:
        yield port
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def _chromium(url: str) -> AsyncIterator[Any]:
    """Headless Chromium on `url`, driven over the DevTools protocol; yields `evaluate(js)`."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="echo-chromium-") as profile:
        proc = await asyncio.create_subprocess_exec(
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            f"--user-data-dir={Path(profile)}",
            f"--remote-debugging-port={port}",
            url,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:

            async def page_socket() -> str | None:
                try:
                    async with httpx.AsyncClient() as client:
                        targets = (await client.get(f"http://127.0.0.1:{port}/json/list")).json()
                except httpx.HTTPError:
                    return None
                pages = [t for t in targets if t.get("type") == "page"]
                return str(pages[0]["webSocketDebuggerUrl"]) if pages else None

            ws_url = await eventually(page_socket, timeout=60, interval=0.2)
            ids = itertools.count(1)
            async with connect(ws_url, max_size=None) as ws:

                async def evaluate(expression: str) -> Any:
                    call = next(ids)
                    await ws.send(
                        json.dumps(
                            {
                                "id": call,
                                "method": "Runtime.evaluate",
                                "params": {"expression": expression, "returnByValue": True},
                            }
                        )
                    )
                    while True:
                        message = json.loads(await ws.recv())
                        if message.get("id") == call:
                            return message["result"]["result"].get("value")

                yield evaluate
        finally:
            proc.terminate()
            await proc.wait()


async def test_an_attendee_answers_in_a_real_browser(
    kit: Any, sqlite_url: str, nats_server: Any, js: Any
) -> None:
    clock = ManualClock(kit.SESSION_END + timedelta(minutes=5))
    async with kit.world(sqlite_url, nats_server.url, js, clock=clock) as w:
        await w.schedule()
        await w.link_meeting()
        person = await w.participant("browser@example.org")
        for event, minute in (("meeting.participant_joined", 0), ("meeting.participant_left", 95)):
            at = kit.SESSION_START + timedelta(minutes=minute)
            body = kit.zoom_body(event, w.meeting_id, "i1", at, email="browser@example.org")
            assert (await w.zoom(body)).status_code == 200
        r = await w.client.put(
            f"/v1/programmes/{w.programme_id}/evaluation-form", headers=w.admin, json=FORM
        )
        assert r.status_code == 200, r.text
        sent = await w.client.post(f"/v1/sessions/{w.session_id}/evaluations/send", headers=w.admin)
        assert sent.status_code == 200 and sent.json()["invited"] == 1

        async def link() -> str | None:
            events = await kit.stream_events(js, "evaluation_requested")
            return str(events[0].data.response_url) if events else None

        response_url = await eventually(link, timeout=30)
        path = "/v1/evaluations/" + response_url.rsplit("/", 1)[1]

        async with (
            _serving(w.runtime.create_app()) as port,
            _chromium(f"http://127.0.0.1:{port}{path}") as evaluate,
        ):

            async def loaded() -> bool:
                state = await evaluate("document.readyState + '|' + document.title")
                return bool(state == "complete|Session evaluation")

            await eventually(loaded, timeout=60, interval=0.2)
            radios = await evaluate("document.querySelectorAll('input[type=radio]').length")
            assert radios == 10
            # Sending without the required answers: the browser itself holds the form back.
            held = await evaluate("document.querySelector('form').checkValidity()")
            assert held is False
            await evaluate(
                "document.querySelector('input[name=satisfaction][value=\"4\"]').click();"
                "document.querySelector('input[name=relevance][value=\"5\"]').click();"
                "document.querySelector('textarea[name=comment]').value = 'Clear and practical';"
                "document.querySelector('button[type=submit]').click(); true"
            )

            async def thanked() -> bool:
                title = await evaluate("document.readyState + '|' + document.title")
                return bool(title == "complete|Thank you")

            await eventually(thanked, timeout=60, interval=0.2)

        page = await w.client.get(f"/v1/sessions/{w.session_id}/evaluations", headers=w.admin)
        [answer] = page.json()["items"]
        assert answer["respondent_id"] == person["id"]
        assert answer["scores"] == {"satisfaction": 4, "relevance": 5}
        assert answer["comment"] == "Clear and practical"
