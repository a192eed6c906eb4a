"""Every checked-in NATS config is what the generator writes, and nats-server 2.15 accepts it."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.deploy.natstopology import (
    NATS_DIR,
    REGIONS,
    ServerPorts,
    all_password_vars,
    base_env,
    free_port,
    password_env,
    validate,
    write_self_signed_tls,
)

CONFIGS = sorted(NATS_DIR.glob("*.conf"))


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("echo_nats_generate", NATS_DIR / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _render_env(tmp_path: Path) -> dict[str, str]:
    """Every variable the configs reference, as a loopback deployment would set them."""
    env = base_env("validate", ServerPorts(), tmp_path / "store")
    env |= password_env(all_password_vars())
    env |= {
        f"NATS_ROUTE_{i}": f"nats-route://route:secret@127.0.0.1:{free_port()}" for i in (1, 2, 3)
    }
    env["NATS_HUB_LEAF_URL"] = f"nats-leaf://leaf:secret@127.0.0.1:{free_port()}"
    env |= write_self_signed_tls(tmp_path / "tls")
    return env


def test_the_expected_configs_are_checked_in() -> None:
    names = {p.name for p in CONFIGS}
    expected = {"superhub.conf", "superhub.prod.conf"}
    expected |= {f"leaf-{r}.conf" for r in REGIONS} | {f"leaf-{r}.prod.conf" for r in REGIONS}
    assert names == expected
    assert len(CONFIGS) == 8


def test_checked_in_configs_match_the_generator() -> None:
    rendered: dict[Path, str] = _generator().rendered_files()
    assert {p.name for p in rendered} == {p.name for p in CONFIGS}
    stale = [p.name for p, text in rendered.items() if p.read_text() != text]
    assert stale == [], f"run `.venv/bin/python deploy/nats/generate.py`: {stale} are stale"


@pytest.mark.parametrize("config", CONFIGS, ids=[p.name for p in CONFIGS])
def test_nats_server_accepts_config(config: Path, tmp_path: Path) -> None:
    result = validate(config, _render_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is valid" in result.stdout + result.stderr


def test_nats_server_rejects_a_config_with_an_unset_password(tmp_path: Path) -> None:
    """The validation is real: leave one password variable unset and the server refuses."""
    env = _render_env(tmp_path)
    del env["ONTARIO_CASES_NATS_PASSWORD"]
    result = validate(NATS_DIR / "leaf-ontario.conf", env)
    assert result.returncode == 1
    assert "ONTARIO_CASES_NATS_PASSWORD" in result.stdout + result.stderr


def test_production_configs_refuse_missing_certificates(tmp_path: Path) -> None:
    env = _render_env(tmp_path)
    env["NATS_TLS_CERT"] = str(tmp_path / "absent.crt")
    result = validate(NATS_DIR / "superhub.prod.conf", env)
    assert result.returncode == 1
    assert "absent.crt" in result.stdout + result.stderr


@pytest.mark.parametrize("config", CONFIGS, ids=[p.name for p in CONFIGS])
def test_no_secret_is_written_in_a_config(config: Path) -> None:
    text = config.read_text()
    passwords = re.findall(r"password:\s*(\S+)", text)
    assert passwords, "every config has users"
    assert [p for p in passwords if not p.startswith("$")] == []
    assert "BEGIN" not in text  # no inline certificate or key


@pytest.mark.parametrize("config", [c for c in CONFIGS if c.name.endswith(".prod.conf")])
def test_production_configs_use_tls_everywhere(config: Path) -> None:
    text = config.read_text()
    blocks = text.count("tls {")
    # clients, and either routes + leaf listener (superhub) or the remote to the superhub (leaf)
    assert blocks == (3 if config.name.startswith("superhub") else 2)
    assert text.count("verify: true") == (2 if config.name.startswith("superhub") else 0)


def test_superhub_is_a_three_server_jetstream_cluster_with_fsync() -> None:
    text = (NATS_DIR / "superhub.conf").read_text()
    assert "routes: [$NATS_ROUTE_1, $NATS_ROUTE_2, $NATS_ROUTE_3]" in text
    assert "domain: hub" in text
    assert "sync_interval: always" in text


@pytest.mark.parametrize("region", REGIONS)
def test_each_leaf_has_its_own_domain_account_and_remote(region: str) -> None:
    text = (NATS_DIR / f"leaf-{region}.conf").read_text()
    account = region.upper().replace("-", "_")
    assert f"domain: {region}\n" in text
    assert f"account: {account}\n" in text
    assert f"  {account}: {{\n    jetstream: enabled\n" in text
    assert "url: $NATS_HUB_LEAF_URL" in text
    others = [r for r in REGIONS if r != region]
    assert not any(f"echo.{o}." in text for o in others)
