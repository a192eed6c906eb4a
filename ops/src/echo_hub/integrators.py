"""`echo-hub integrator add NAME --region R`: credentials and the NATS config of an integrator.

An integrator is a read-only NATS user of one region's account (or of the superhub's, for
ECHO_NETWORK) whose durables are `hub-<NAME>-<purpose>`. The user block is rendered by
deploy/nats/generate.py (the same code that writes the checked-in configs), so what is printed
here is exactly what those files grant their built-in `integrator` users.
"""

from __future__ import annotations

import importlib.util
import json
import secrets
import sys
from pathlib import Path
from types import ModuleType

from echo_contracts.topology import (
    DEFAULT_INTEGRATOR_PURPOSES,
    NETWORK_STREAM,
    account_name,
    check_integrator_name,
    integrator_durable,
    stream_name,
)
from echo_contracts.types import _REGION_RE

GENERATOR = Path(__file__).resolve().parents[3] / "deploy" / "nats" / "generate.py"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("echo_nats_generate", GENERATOR)
    if spec is None or spec.loader is None or not GENERATOR.exists():
        raise FileNotFoundError(f"deploy/nats/generate.py not found at {GENERATOR}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def issue(name: str, region: str | None, purposes: list[str], data_dir: Path) -> tuple[str, int]:
    """The text to print for a new integrator, and the exit code (2: bad input)."""
    try:
        check_integrator_name(name)
        for purpose in purposes:
            check_integrator_name(purpose)
    except ValueError as exc:
        return f"echo-hub integrator add: {exc}", 2
    if region is not None and not _REGION_RE.match(region):
        return f"echo-hub integrator add: invalid region {region!r} (e.g. 'ontario')", 2
    generate = _generator()
    scope = region or "hub"
    stream = stream_name(region) if region else NETWORK_STREAM
    account = account_name(region) if region else "HUB"
    variable = generate.env_name(scope, name, "NATS_PASSWORD")
    password = "p" + secrets.token_hex(20)
    user = generate.integrator_user(name, stream, variable, purposes)
    durables = ", ".join(integrator_durable(name, p) for p in purposes)
    where = f"leaf-{region}" if region else "superhub"
    lines = [
        f"integrator {name}: reads {stream} through {durables}; publishes nothing",
        "",
        f"Production: add this user to the `{account}` account's `users` in",
        f"deploy/nats/{where}.prod.conf (or to generate.py, then re-generate),",
        f"set {variable} in the server's environment (secret echo-nats-users, key {name}),",
        "and reload the server (`nats-server --signal reload`):",
        "",
        user.render(4).rstrip("\n"),
        "",
        f"  {variable}={password}",
        f"  give the integrator: user {name}, that password, the server's URL (TLS)",
        "",
        "Development:",
    ]
    lines += _dev_hint(scope, region, data_dir)
    return "\n".join(lines), 0


def _dev_hint(scope: str, region: str | None, data_dir: Path) -> list[str]:
    urls = data_dir / "urls.json"
    passwords = data_dir / "nats" / "passwords.json"
    hint = [
        f"  echo-hub dev (single topology): no NATS authentication; the URL is `nats` in {urls}",
        "  (durable names hub-<name>-<purpose> all the same)",
    ]
    built_in = f"{scope.upper().replace('-', '_')}_INTEGRATOR_NATS_PASSWORD"
    if passwords.exists():
        known = json.loads(passwords.read_text())
        if built_in in known:
            hint.append(
                f"  echo-hub dev --topology multi-region: user `integrator`, password "
                f"{known[built_in]} (from {passwords}), durables hub-integrator-events/-replay"
                f" on {'the ' + region + ' leaf' if region else 'the superhub'}"
            )
            return hint
    hint.append(
        "  echo-hub dev --topology multi-region: the built-in user `integrator`, its password"
        f" is {built_in} in {passwords} (written when dev starts)"
    )
    return hint


def add_command(name: str, region: str | None, purposes: list[str] | None, data_dir: Path) -> int:
    text, code = issue(name, region, purposes or list(DEFAULT_INTEGRATOR_PURPOSES), data_dir)
    print(text)
    return code
