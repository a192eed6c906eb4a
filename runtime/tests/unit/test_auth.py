"""Bearer tokens: development HS256, production RS256 against a JWKS, and what is refused."""

from __future__ import annotations

import base64
import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from echo_runtime.auth import Principal, Role, TokenVerifier, jwks_from_public_pem, mint_dev_token
from echo_runtime.problems import Problem
from echo_runtime.settings import DEV_SECRET, ServiceSettings


def _rsa() -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


PRIVATE, PUBLIC = _rsa()
OTHER_PRIVATE, _ = _rsa()
JWKS = jwks_from_public_pem(PUBLIC, "k1")


def claims(**over: object) -> dict[str, object]:
    now = int(time.time())
    base: dict[str, object] = {
        "sub": str(uuid.uuid4()),
        "roles": ["hub-admin"],
        "regions": ["ontario"],
        "aud": "echo-network",
        "iss": "echo-hub",
        "exp": now + 60,
    }
    base.update(over)
    return base


def dev() -> TokenVerifier:
    return TokenVerifier(audience="echo-network", issuer="echo-hub", dev_secret=DEV_SECRET)


def prod() -> TokenVerifier:
    return TokenVerifier(audience="echo-network", issuer="echo-hub", jwks_json=JWKS)


def test_a_development_token_gives_its_principal() -> None:
    programme = uuid.uuid4()
    token = mint_dev_token(
        DEV_SECRET, roles=["facilitator"], regions=["shanghai"], programmes=[str(programme)]
    )
    principal = dev().verify(token)
    assert principal.roles == {Role.FACILITATOR}
    assert principal.allows([Role.FACILITATOR], "shanghai", programme)
    assert not principal.allows([Role.FACILITATOR], "ontario", programme)
    assert not principal.allows([Role.FACILITATOR], "shanghai", uuid.uuid4())
    assert not principal.allows([Role.HUB_ADMIN], "shanghai")


def test_an_rs256_token_verifies_against_the_jwks() -> None:
    token = jwt.encode(claims(), PRIVATE, algorithm="RS256", headers={"kid": "k1"})
    assert prod().verify(token).roles == {Role.HUB_ADMIN}


def _alg_none(payload: dict[str, object]) -> str:
    def part(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}."


@pytest.mark.parametrize(
    ("verifier", "token"),
    [
        (
            dev,
            lambda: mint_dev_token(
                DEV_SECRET, roles=["spoke"], regions=["ontario"], ttl_seconds=-10
            ),
        ),
        (dev, lambda: jwt.encode(claims(aud="someone-else"), DEV_SECRET, algorithm="HS256")),
        (dev, lambda: jwt.encode(claims(iss="evil"), DEV_SECRET, algorithm="HS256")),
        (
            dev,
            lambda: jwt.encode(claims(), "another-secret-of-32-bytes-length!!", algorithm="HS256"),
        ),
        (dev, lambda: _alg_none(claims())),
        (prod, lambda: _alg_none(claims())),
        (
            prod,
            lambda: jwt.encode(claims(), OTHER_PRIVATE, algorithm="RS256", headers={"kid": "k1"}),
        ),
        (
            prod,
            lambda: jwt.encode(claims(), OTHER_PRIVATE, algorithm="RS256", headers={"kid": "k9"}),
        ),
        (prod, lambda: jwt.encode(claims(), DEV_SECRET, algorithm="HS256")),
        (dev, lambda: "garbage"),
    ],
    ids=[
        "expired",
        "wrong-audience",
        "wrong-issuer",
        "wrong-secret",
        "alg-none-dev",
        "alg-none-prod",
        "bad-signature",
        "key-not-in-jwks",
        "hs256-in-production",
        "garbage",
    ],
)
def test_invalid_tokens_are_401(verifier: object, token: object) -> None:
    with pytest.raises(Problem) as caught:
        verifier().verify(token())  # type: ignore[operator]
    assert caught.value.status == 401


def test_network_admin_acts_everywhere_and_require_names_the_roles() -> None:
    admin = Principal(subject="a", roles=frozenset({Role.NETWORK_ADMIN}), regions=frozenset({"*"}))
    admin.require([Role.HUB_ADMIN], "shanghai")
    spoke = Principal(subject="s", roles=frozenset({Role.SPOKE}), regions=frozenset({"ontario"}))
    with pytest.raises(Problem) as caught:
        spoke.require([Role.HUB_ADMIN, Role.FACILITATOR], "ontario")
    assert caught.value.status == 403
    assert "facilitator" in caught.value.detail and "hub-admin" in caught.value.detail


def test_production_refuses_the_development_secret() -> None:
    with pytest.raises(ValueError, match="AUTH_JWKS"):
        ServiceSettings(environment="production")
    settings = ServiceSettings(environment="production", auth_jwks_json=JWKS)
    assert settings.auth_dev_secret == ""


@pytest.mark.parametrize("regions", ["", "Ontario", "network", "a"])
def test_settings_refuse_bad_regions(regions: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECHO_REGIONS", regions)
    with pytest.raises(ValueError, match="region"):
        ServiceSettings()


def test_settings_read_regions_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECHO_REGIONS", "ontario, shanghai")
    assert ServiceSettings().regions == ["ontario", "shanghai"]


# --- issue 15: auth configuration and claims parsed by one typed model


def test_production_never_accepts_hs256_even_with_a_secret_configured() -> None:
    verifier = TokenVerifier(
        audience="echo-network",
        issuer="echo-hub",
        dev_secret=DEV_SECRET,
        jwks_json=JWKS,
        accept_dev_tokens=False,
    )
    with pytest.raises(Problem) as caught:
        verifier.verify(jwt.encode(claims(), DEV_SECRET, algorithm="HS256"))
    assert caught.value.status == 401 and "HS256" in caught.value.detail
    rs256 = jwt.encode(claims(), PRIVATE, algorithm="RS256", headers={"kid": "k1"})
    assert Role.HUB_ADMIN in verifier.verify(rs256).roles


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        ({"auth_dev_secret": "a-custom-development-secret-0123456789"}, "AUTH_JWKS_URL"),
        (
            {"auth_dev_secret": "a-custom-development-secret-0123456789", "auth_jwks_json": JWKS},
            "remove AUTH_DEV_SECRET",
        ),
        (
            {"auth_dev_secret": DEV_SECRET, "auth_jwks_url": "https://idp.example.org/jwks"},
            "remove AUTH_DEV_SECRET",
        ),
    ],
    ids=["dev-secret-without-jwks", "jwks-and-dev-secret", "jwks-and-default-secret-named"],
)
def test_a_contradictory_production_configuration_refuses_to_start(
    settings: dict[str, str], says: str
) -> None:
    with pytest.raises(ValueError, match=says):
        ServiceSettings(environment="production", **settings)


def test_production_from_the_environment_refuses_a_dev_secret_beside_the_jwks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ECHO_ENVIRONMENT", "production")
    monkeypatch.setenv("ECHO_AUTH_JWKS_JSON", JWKS)
    monkeypatch.setenv("ECHO_AUTH_DEV_SECRET", "set-by-mistake-in-production-0123456789")
    with pytest.raises(ValueError, match="never accepts development"):
        ServiceSettings()
    monkeypatch.delenv("ECHO_AUTH_DEV_SECRET")
    assert ServiceSettings().auth_dev_secret == ""


def test_regions_is_a_list_of_slugs_or_the_string_star() -> None:
    star = jwt.encode(claims(regions="*"), DEV_SECRET, algorithm="HS256")
    everywhere = dev().verify(star)
    assert everywhere.in_region("shanghai") and everywhere.in_region("ontario")
    listed = dev().verify(jwt.encode(claims(regions=["*"]), DEV_SECRET, algorithm="HS256"))
    assert listed.in_region("namibia")
    for bad in ("ontario", ["Ontario!"], 7, {"ontario": True}, ["ontario", 3]):
        token = jwt.encode(claims(regions=bad), DEV_SECRET, algorithm="HS256")
        with pytest.raises(Problem) as caught:
            dev().verify(token)
        assert caught.value.status == 401, bad
        assert "regions" in caught.value.detail and '"*"' in caught.value.detail
    # the old reading took "ontario" character by character: region "o" must never match
    with pytest.raises(Problem):
        dev().verify(jwt.encode(claims(regions="on"), DEV_SECRET, algorithm="HS256"))


def test_roles_and_programmes_are_checked_by_the_same_model() -> None:
    for bad in ({"roles": "hub-admin"}, {"roles": ["root"]}, {"programmes": ["not-a-uuid"]}):
        with pytest.raises(Problem) as caught:
            dev().verify(jwt.encode(claims(**bad), DEV_SECRET, algorithm="HS256"))
        assert caught.value.status == 401 and "claims" in caught.value.detail
