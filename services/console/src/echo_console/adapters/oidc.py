"""OpenID Connect authorization code flow with PKCE (S256) against the hub's identity provider."""

from __future__ import annotations

import base64
import hashlib
import secrets
import ssl
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt


class SignInFailed(Exception):
    """The identity provider's answer cannot sign anyone in; the message says why."""


@dataclass(frozen=True)
class PendingSignIn:
    """What the browser's round trip to the provider must bring back to us."""

    state: str
    nonce: str
    verifier: str
    binding: str
    created: float


@dataclass(frozen=True)
class Tokens:
    access_token: str
    id_token: str
    claims: dict[str, Any]
    expires_at: float


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class OidcClient:
    """A confidential (or public) client of one provider; discovery and keys are cached."""

    def __init__(
        self,
        issuer: str,
        client_id: str,
        client_secret: str | None,
        scopes: str,
        transport: httpx.AsyncBaseTransport | None = None,
        ca_bundle: str | None = None,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.scopes = scopes
        self.http = httpx.AsyncClient(
            timeout=10, transport=transport, verify=ssl.create_default_context(cafile=ca_bundle)
        )
        self._config: dict[str, Any] | None = None
        self._keys: jwt.PyJWKSet | None = None

    async def close(self) -> None:
        await self.http.aclose()

    async def configuration(self) -> dict[str, Any]:
        if self._config is None:
            response = await self.http.get(f"{self.issuer}/.well-known/openid-configuration")
            response.raise_for_status()
            config: dict[str, Any] = response.json()
            if config.get("issuer", "").rstrip("/") != self.issuer:
                raise SignInFailed(f"the provider names itself {config.get('issuer')!r}")
            self._config = config
        return self._config

    async def _jwks(self, refresh: bool = False) -> jwt.PyJWKSet:
        if self._keys is None or refresh:
            config = await self.configuration()
            response = await self.http.get(config["jwks_uri"])
            response.raise_for_status()
            self._keys = jwt.PyJWKSet.from_dict(response.json())
        return self._keys

    def start(self) -> PendingSignIn:
        return PendingSignIn(
            state=secrets.token_urlsafe(24),
            nonce=secrets.token_urlsafe(24),
            verifier=secrets.token_urlsafe(48),
            binding=secrets.token_urlsafe(24),
            created=time.time(),
        )

    async def authorization_url(self, pending: PendingSignIn, redirect_uri: str) -> str:
        config = await self.configuration()
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": redirect_uri,
                "scope": self.scopes,
                "state": pending.state,
                "nonce": pending.nonce,
                "code_challenge": _challenge(pending.verifier),
                "code_challenge_method": "S256",
            }
        )
        return f"{config['authorization_endpoint']}?{query}"

    async def exchange(self, code: str, pending: PendingSignIn, redirect_uri: str) -> Tokens:
        """Trade the code (and the PKCE verifier) for tokens; verify the ID token."""
        config = await self.configuration()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": pending.verifier,
            "client_id": self.client_id,
        }
        try:
            response = await self.http.post(
                config["token_endpoint"],
                data=form,
                auth=httpx.BasicAuth(self.client_id, self.client_secret)
                if self.client_secret
                else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.HTTPError as exc:
            raise SignInFailed(
                f"the token endpoint did not answer ({type(exc).__name__})"
            ) from None
        if response.status_code != 200:
            raise SignInFailed(f"the provider refused the code ({response.status_code})")
        body = response.json()
        id_token = body.get("id_token")
        if not id_token:
            raise SignInFailed("the provider sent no ID token")
        claims = await self._verify(id_token)
        if claims.get("nonce") != pending.nonce:
            raise SignInFailed("the ID token's nonce is not the one this sign-in sent")
        lifetime = float(body.get("expires_in") or 3600)
        return Tokens(
            access_token=str(body.get("access_token") or id_token),
            id_token=id_token,
            claims=claims,
            expires_at=min(time.time() + lifetime, float(claims["exp"])),
        )

    async def _verify(self, id_token: str) -> dict[str, Any]:
        kid = jwt.get_unverified_header(id_token).get("kid")
        keys = await self._jwks()
        if kid not in {k.key_id for k in keys.keys}:
            keys = await self._jwks(refresh=True)  # the provider rotated its keys
        try:
            key = next(k for k in keys.keys if k.key_id == kid or kid is None)
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key.key,
                algorithms=["RS256", "ES256"],
                audience=self.client_id,
                issuer=(await self.configuration())["issuer"],
                options={"require": ["exp", "iat", "sub", "aud", "iss"]},
            )
        except (StopIteration, jwt.PyJWTError) as exc:
            raise SignInFailed(f"the ID token is not valid ({type(exc).__name__})") from None
        return claims

    async def end_session_url(self, id_token: str, after: str) -> str | None:
        config = await self.configuration()
        endpoint = config.get("end_session_endpoint")
        if not endpoint:
            return None
        query = urlencode({"id_token_hint": id_token, "post_logout_redirect_uri": after})
        return f"{endpoint}?{query}"
