"""The dashboard in headless Chromium: charts drawn with data, every asset from the service."""

from __future__ import annotations

import asyncio
import html
import json
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from echo_reporting.bootstrap import bootstrap
from echo_runtime.natsserver import free_port
from echo_runtime.testing import running, token
from nats.js import JetStreamContext
from PIL import Image
from starlette.types import ASGIApp, Receive, Scope, Send

from ..conftest import all_consumed, publish
from ..scenario import COPD, full_scenario

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
#: Chromium's own services (component updater, sign-in, clock): the browser calls them by itself
#: even with --disable-background-networking, whatever page it shows, and never with a page's
#: Referer. Any other request through the proxy came from the page and fails the test.
BROWSER_SERVICES = (
    "update.googleapis.com",
    "accounts.google.com",
    "clients2.google.com",
    "redirector.gvt1.com",
    "content-autofill.googleapis.com",
)
SERIES_BLUE = (0x2F, 0x6D, 0xB5)


class Recorder:
    """Remembers every path the service answered."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.paths: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.paths.append(scope["path"])
        await self.app(scope, receive, send)


@asynccontextmanager
async def serving(app: ASGIApp) -> AsyncIterator[int]:
    """The app on a real port with uvicorn (lifespan included)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
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
async def outside_world() -> AsyncIterator[tuple[int, list[bytes]]]:
    """A proxy standing for the internet: records each request that tries to leave, refuses it."""
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readline()
        while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
            if line.lower().startswith(b"referer:"):
                head += line
        seen.append(head)
        writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield port, seen
    finally:
        server.close()
        await server.wait_closed()


async def chromium(profile: Path, proxy_port: int, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--component-updater=disable",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--disable-domain-reliability",
        "--disable-client-side-phishing-detection",
        "--no-pings",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication,"
        "NetworkTimeServiceQuerying,SignInProfileCreation,DialMediaRouteProvider",
        f"--user-data-dir={profile}",
        f"--proxy-server=http://127.0.0.1:{proxy_port}",
        "--window-size=1280,1100",
        "--virtual-time-budget=5000",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode == 0
    return out.decode()


async def test_dashboard_renders_charts_with_data_and_fetches_nothing_from_outside(
    js: JetStreamContext, sqlite_url: str, settings_for: Callable[..., Any], tmp_path: Path
) -> None:
    runtime = bootstrap(settings_for(sqlite_url))
    app = Recorder(runtime.asgi())
    async with serving(app) as port, outside_world() as (proxy_port, outside):
        await publish(js, full_scenario().envelopes)
        await all_consumed(js)
        tok = token("network-admin", "*")["authorization"].split()[1]
        url = f"http://127.0.0.1:{port}/dashboard?access_token={tok}"

        dom = await chromium(tmp_path / "profile", proxy_port, "--dump-dom", url)
        shot = tmp_path / "dashboard.png"
        await chromium(tmp_path / "profile2", proxy_port, f"--screenshot={shot}", url)

    # The page's script ran (it is served by the service) and found three charts with data.
    assert 'data-ready="true"' in dom
    assert 'data-charts="4"' in dom
    bars_with_data = int(re.search(r'data-bars-with-data="(\d+)"', dom).group(1))  # type: ignore[union-attr]
    assert bars_with_data >= 10
    assert 'data-label="2025-01"' in dom and 'data-metric="sessions_held">11<' in dom
    # The evaluations panel: three surveyed sessions answered at 50 %, 50 % and 33.3 %, and
    # every Moore level (1, 2, 3B, 4) with a number in it.
    rates = re.search(r'<svg[^>]*id="chart-response-rates".*?</svg>', dom, re.S)
    assert rates is not None
    assert re.findall(r'data-value="([\d.]+)"', rates.group(0)) == ["50", "50", "33.3"]
    assert 'data-label="2025-03-04 northern-ireland"' in rates.group(0)
    assert 'data-response-rate-bars="3"' in dom and 'data-moore-levels-with-data="4"' in dom
    assert 'data-metric="response_rate">46.7%<' in dom
    assert 'data-measure="satisfaction_mean">4.0<' in dom
    assert 'data-measure="intent_to_change_share">0.7143<' in dom
    assert "ontario" in dom and "shanghai" in dom
    assert {
        "/dashboard",
        "/dashboard/assets/dashboard.css",
        "/dashboard/assets/dashboard.js",
    } <= set(app.paths)
    resources = json.loads(html.unescape(re.search(r'data-resources="([^"]*)"', dom).group(1)))  # type: ignore[union-attr]
    assert resources and all(r.startswith(f"http://127.0.0.1:{port}/") for r in resources)
    from_page = [
        r
        for r in outside
        if b"referer:" in r.lower() or not any(h.encode() in r for h in BROWSER_SERVICES)
    ]
    assert from_page == [], f"requests left the machine: {from_page}"
    # The screenshot shows the bars (the first series colour), not an empty canvas.
    image = Image.open(shot).convert("RGB")
    colours = dict((c, n) for n, c in image.getcolors(maxcolors=1 << 24) or [])
    blue = colours.get(SERIES_BLUE, 0)
    assert blue > 500, f"only {blue} pixels of bar colour in {shot}"


async def test_dashboard_filters_by_region_and_programme_and_needs_a_token(
    js: JetStreamContext, sqlite_url: str, settings_for: Callable[..., Any]
) -> None:
    async with running(bootstrap(settings_for(sqlite_url))) as client:
        await publish(js, full_scenario().envelopes)
        await all_consumed(js)
        assert (await client.get("/dashboard")).status_code == 401
        hub = token("hub-admin", "ontario")
        page = await client.get("/dashboard?region=&programme=&from=&to=", headers=hub)
        assert page.status_code == 200
        assert "Region ontario" in page.text and "Hepatitis C Ontario" in page.text
        forbidden = await client.get("/dashboard?region=shanghai", headers=hub)
        assert forbidden.status_code == 403
        programme = re.search(r'<option value="([0-9a-f-]{36})">Chronic Pain', page.text)
        assert programme is not None
        one = await client.get(f"/dashboard?programme={programme.group(1)}", headers=hub)
        assert one.status_code == 200 and "Programme Chronic Pain Ontario" in one.text
        narrowed = await client.get(
            "/dashboard?region=ontario&from=2025-02-01&to=2025-02-28", headers=hub
        )
        assert 'data-label="2025-02"' in narrowed.text
        assert 'data-label="2025-01"' not in narrowed.text
        # One programme's panel: one bar per surveyed session, labelled with its day.
        copd = await client.get(
            f"/dashboard?programme={COPD}", headers=token("facilitator", "northern-ireland")
        )
        assert copd.status_code == 200
        for day, rate in (("2025-03-04", "50"), ("2025-03-11", "50"), ("2025-03-18", "33.3")):
            assert f'data-label="{day}" data-value="{rate}"' in copd.text
        assert "15</span> invited" in copd.text
        # Ontario's hepatitis C sent no survey: the panel says so rather than inventing numbers.
        assert 'data-metric="response_rate">n/a<' in page.text
        asset = await client.get("/dashboard/assets/dashboard.js")
        assert asset.status_code == 200 and "data-ready" in asset.text
        assert (await client.get("/dashboard/assets/../settings.py")).status_code == 404
