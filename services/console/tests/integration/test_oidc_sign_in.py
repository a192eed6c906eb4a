"""Production sign-in against a real OpenID provider (pyop) running in the test.

The provider is pyop's `Provider` behind a small Starlette app: discovery, authorization (the
test's user is already authenticated there), token endpoint with client_secret_basic and PKCE
verification, JWKS. The console runs as in production (OIDC configured, demo people refused).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import ssl
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import uvicorn
from Cryptodome.PublicKey import RSA
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from echo_console.bootstrap import bootstrap
from echo_console.settings import ConsoleSettings
from echo_runtime.natsserver import free_port
from jwkest.jwk import RSAKey
from pyop.authz_state import AuthorizationState
from pyop.provider import Provider
from pyop.subject_identifier import HashBasedSubjectIdentifierFactory
from pyop.userinfo import Userinfo
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

pytestmark = pytest.mark.integration

SECRET = "console-client-secret-0123456789"
PEOPLE = {
    "dana": {"name": "Dana Hub", "roles": ["hub-admin"], "regions": ["ontario"]},
}


def identity_provider(issuer: str, console: str, seen: dict[str, Any]) -> Starlette:
    key = RSAKey(key=RSA.generate(2048), alg="RS256", kid="op-key-1")
    provider = Provider(
        key,
        {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/authorize",
            "token_endpoint": f"{issuer}/token",
            "jwks_uri": f"{issuer}/jwks",
            "end_session_endpoint": f"{issuer}/logout",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", "profile"],
        },
        AuthorizationState(HashBasedSubjectIdentifierFactory("test-salt")),
        {
            "echo-console": {
                "client_secret": SECRET,
                "redirect_uris": [f"{console}/sign-in/callback"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "client_secret_basic",
            }
        },
        Userinfo(PEOPLE),
    )

    def claims(user_id: str, client_id: str) -> dict[str, Any]:
        return dict(PEOPLE[user_id])

    async def discovery(request: Request) -> Response:
        return JSONResponse(provider.provider_configuration.to_dict())

    async def jwks(request: Request) -> Response:
        return JSONResponse(provider.jwks)

    async def authorize(request: Request) -> Response:
        seen["authorize"] = dict(request.query_params)
        authn = provider.parse_authentication_request(urlencode(dict(request.query_params)))
        answer = provider.authorize(authn, "dana", extra_id_token_claims=claims)
        return RedirectResponse(answer.request(authn["redirect_uri"], False), status_code=302)

    async def token(request: Request) -> Response:
        body = (await request.body()).decode()
        seen.setdefault("token_requests", []).append(body)
        try:
            answer = provider.handle_token_request(
                body,
                {"Authorization": request.headers.get("authorization", "")},
                extra_id_token_claims=claims,
            )
        except Exception as exc:  # pyop raises for a bad code or verifier: answer as OAuth does
            seen["token_error"] = repr(exc)
            return JSONResponse({"error": "invalid_grant", "detail": str(exc)}, status_code=400)
        return JSONResponse(answer.to_dict())

    async def logout(request: Request) -> Response:
        seen["logout"] = dict(request.query_params)
        return RedirectResponse(request.query_params["post_logout_redirect_uri"], status_code=302)

    return Starlette(
        routes=[
            Route("/.well-known/openid-configuration", discovery),
            Route("/jwks", jwks),
            Route("/authorize", authorize),
            Route("/token", token, methods=["POST"]),
            Route("/logout", logout),
        ]
    )


def certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (OpenID requires an https issuer)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "op.pem", folder / "op.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def serve(
    app: Any, port: int, tls: tuple[Path, Path] | None = None
) -> tuple[uvicorn.Server, threading.Thread]:
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_config=None,
            access_log=False,
            ssl_certfile=str(tls[0]) if tls else None,
            ssl_keyfile=str(tls[1]) if tls else None,
        )
    )
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    return server, thread


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tls = certificate(tmp_path_factory.mktemp("tls"))
    op_port, console_port = free_port(), free_port()
    issuer, console = f"https://127.0.0.1:{op_port}", f"https://127.0.0.1:{console_port}"
    seen: dict[str, Any] = {}
    settings = ConsoleSettings(
        environment="production",
        auth_jwks_url=f"{issuer}/jwks",
        public_url=console,
        oidc_issuer=issuer,
        oidc_client_id="echo-console",
        oidc_client_secret=SECRET,
        oidc_ca_bundle=str(tls[0]),
        regions=["ontario"],
    )
    servers = [
        serve(identity_provider(issuer, console, seen), op_port, tls),
        serve(bootstrap(settings).asgi(), console_port, tls),
    ]
    yield {"issuer": issuer, "console": console, "seen": seen, "ca": str(tls[0])}
    for server, thread in servers:
        server.should_exit = True
        thread.join(10)


def test_signs_in_with_code_and_pkce_keeps_tokens_server_side_and_signs_out(
    world: dict[str, Any],
) -> None:
    console = world["console"]
    with httpx.Client(
        follow_redirects=True, timeout=30, verify=ssl.create_default_context(cafile=world["ca"])
    ) as browser:
        page = browser.get(f"{console}/sign-in")
        assert "demo" not in page.text.lower()  # production offers no demo people
        anon = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert anon is not None
        demo = browser.post(
            f"{console}/sign-in/demo", data={"csrf": anon.group(1), "who": "ontario:hub-admin"}
        )
        assert demo.status_code == 404 and "not offered in production" in demo.text
        landed = browser.get(f"{console}/sign-in/oidc?next=/me/preferences")
        sent = world["seen"]["authorize"]
        assert sent["code_challenge_method"] == "S256" and len(sent["code_challenge"]) == 43
        assert "token_requests" in world["seen"], (
            landed.status_code,
            landed.url,
            landed.text[-1500:],
        )
        assert "code_verifier=" in world["seen"]["token_requests"][0]
        # Signed in as the provider's person, with roles and region from its claims (the page
        # itself is a 502 refusal: no notifications service runs in this test).
        assert "token_error" not in world["seen"], world["seen"].get("token_error")
        assert "Dana Hub · coordinator · ontario" in landed.text
        assert landed.url.path == "/me/preferences"
        cookie = next(c for c in browser.cookies.jar if c.name == "echo_console_session")
        assert cookie.secure and cookie.has_nonstandard_attr("HttpOnly")
        assert "eyJ" not in landed.text  # no token reaches the browser
        csrf = re.search(r'name="csrf" value="([^"]+)"', landed.text)
        assert csrf is not None
        out = browser.post(f"{console}/sign-out", data={"csrf": csrf.group(1)})
        assert world["seen"]["logout"]["post_logout_redirect_uri"] == f"{console}/sign-in"
        assert out.url.path == "/sign-in"
        again = browser.get(f"{console}/me/preferences")
        assert again.url.path == "/sign-in"  # the session is gone


def test_a_forged_or_replayed_callback_signs_nobody_in(world: dict[str, Any]) -> None:
    console = world["console"]
    with httpx.Client(
        follow_redirects=False, timeout=30, verify=ssl.create_default_context(cafile=world["ca"])
    ) as browser:
        start = browser.get(f"{console}/sign-in/oidc")
        at_provider = browser.get(start.headers["location"])
        callback = at_provider.headers["location"]
        first = browser.get(callback)
        assert first.status_code == 303 and "echo_console_session" in first.headers["set-cookie"]
        replay = browser.get(callback)
        assert replay.status_code == 400
        assert "could not be completed" in replay.text
    with httpx.Client(
        follow_redirects=False, timeout=30, verify=ssl.create_default_context(cafile=world["ca"])
    ) as other_browser:
        start = other_browser.get(f"{console}/sign-in/oidc")
        at_provider = other_browser.get(start.headers["location"])
        stolen = at_provider.headers["location"]
    with httpx.Client(
        follow_redirects=False, timeout=30, verify=ssl.create_default_context(cafile=world["ca"])
    ) as victim:
        # A code from someone else's sign-in, injected into this browser: no binding cookie.
        assert victim.get(stolen).status_code == 400
