"""Bounded input and errors, shared by every service (issue 15): problem+json for every error
(also a bug's 500, an unknown path and a wrong method), control characters refused in text,
offsets bounded, any file name served back, and the outbound address policy."""

from __future__ import annotations

import ipaddress
from typing import Any

import httpx
import pytest
from echo_runtime.disposition import content_disposition
from echo_runtime.inputs import InputModel, Line
from echo_runtime.outbound import OutboundPolicy, OutboundRefused
from echo_runtime.pagination import PageDep
from echo_runtime.problems import install_problem_handlers
from fastapi import FastAPI
from pydantic import Field, ValidationError


class Note(InputModel):
    title: Line = Field(max_length=50)
    subtitle: Line | None = None
    text: str = ""
    tags: list[str] = Field(default_factory=list)


def _app() -> FastAPI:
    app = FastAPI()

    @app.post("/notes")
    async def post_note(note: Note) -> Note:
        return note

    @app.get("/notes")
    async def list_notes(page: PageDep) -> dict[str, int]:
        return {"offset": page.offset}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    install_problem_handlers(app)
    return app


async def _call(method: str, url: str, **kwargs: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.request(method, url, **kwargs)


@pytest.mark.parametrize(
    ("method", "url", "status"),
    [
        ("GET", "/boom", 500),
        ("GET", "/nowhere", 404),
        ("DELETE", "/notes", 405),
        ("GET", f"/notes?offset={2**63}", 422),
        ("GET", "/notes?limit=0", 422),
    ],
)
async def test_every_error_is_problem_json(method: str, url: str, status: int) -> None:
    answer = await _call(method, url)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["status"] == status
    assert "a bug" not in answer.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "Diabetes\x00ECHO"}, "title"),
        ({"title": "two\nlines"}, "title"),
        ({"title": "ok", "subtitle": "tab\there"}, "subtitle"),
        ({"title": "ok", "text": "escape \x1b[31m"}, "text"),
        ({"title": "ok", "tags": ["fine", "del\x7f"]}, "tags"),
        ({"title": "ok", "text": "C1 \x85 next line"}, "text"),
    ],
)
async def test_control_characters_are_a_422_naming_the_field(
    body: dict[str, Any], field: str
) -> None:
    answer = await _call("POST", "/notes", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == field
    assert "control character" in answer.json()["detail"]


def test_multi_line_text_keeps_newlines_and_tabs() -> None:
    note = Note(title="Insulin titration", text="Line one\r\n\tLine two", tags=["a b"])
    assert note.text == "Line one\r\n\tLine two"
    with pytest.raises(ValidationError):
        Note(title="Insulin\ttitration")


def test_content_disposition_carries_any_name_and_an_ascii_fallback() -> None:
    header = content_disposition("attachment", "糖尿病讲义.txt")
    assert header == (
        'attachment; filename="download.txt";'
        " filename*=UTF-8''%E7%B3%96%E5%B0%BF%E7%97%85%E8%AE%B2%E4%B9%89.txt"
    )
    assert 'filename="Sante publique.pdf"' in content_disposition("inline", "Santé publique.pdf")


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.251",
        "255.255.255.255",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:10.0.0.1",
        "64:ff9b::7f00:1",
        "2002:7f00:1::1",
        "ff02::1",
        "::",
    ],
)
def test_non_public_addresses_are_refused_unless_allow_listed(address: str) -> None:
    ip = ipaddress.ip_address(address)
    with pytest.raises(OutboundRefused):
        OutboundPolicy().check_address(ip)
    network = "0.0.0.0/0" if ip.version == 4 else "::/0"
    embedded = "::ffff" in address or address.startswith(("64:ff9b", "2002"))
    OutboundPolicy.of(["0.0.0.0/0" if embedded else network]).check_address(ip)


async def test_public_addresses_pass_and_bad_urls_say_why() -> None:
    policy = OutboundPolicy()
    policy.check_address(ipaddress.ip_address("93.184.215.14"))
    policy.check_address(ipaddress.ip_address("2606:2800:21f:cb07:6820:80da:af6b:8b2c"))
    for url, category in [
        ("file:///etc/passwd", "refused_scheme"),
        ("gopher://example.org/", "refused_scheme"),
        ("http:///nohost", "refused_url"),
        ("http://127.0.0.1:8399/x", "refused_address"),
        ("http://[::ffff:169.254.169.254]/", "refused_address"),
    ]:
        with pytest.raises(OutboundRefused) as caught:
            await policy.check(url)
        assert caught.value.category == category, url
    with pytest.raises(OutboundRefused, match="loopback"):
        await policy.check("http://localhost:9/")
    with pytest.raises(ValueError, match="not an IP network"):
        OutboundPolicy.of(["intranet"])


async def test_the_vetted_client_connects_to_the_vetted_address_keeping_the_host_header() -> None:
    """Connect-time check (DNS rebinding): the name is resolved again when connecting and the
    connection refused unless its address is allowed; allowed, the Host header stays the URL's."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append(self.headers["host"])
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://localhost:{server.server_address[1]}/hook"
    try:
        async with OutboundPolicy().client(timeout=5) as client:
            with pytest.raises(OutboundRefused, match="loopback"):
                await client.post(url, content=b"{}")
        assert seen == []
        async with OutboundPolicy.of(["127.0.0.0/8", "::1"]).client(timeout=5) as client:
            answer = await client.post(url, content=b"{}")
        assert answer.status_code == 204
        assert seen == [f"localhost:{server.server_address[1]}"]
    finally:
        server.shutdown()
        server.server_close()
