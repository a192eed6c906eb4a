"""Export the JSON Schemas and the AsyncAPI 3 document checked in under `contracts/`.

`python -m echo_contracts.export [DIR]` rewrites them; a test fails when code and files drift.
"""

from __future__ import annotations

import json
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from echo_contracts.envelope import Envelope, Event, Residency
from echo_contracts.events import ALL_EVENTS
from echo_contracts.subjects import PREFIX
from echo_contracts.topology import INTEGRATOR_PREFIX, NETWORK_STREAM, SUPERHUB_STREAM
from echo_contracts.types import NETWORK_REGION

DEFAULT_DIR = Path(__file__).resolve().parents[2]


def _open(node: Any) -> Any:
    """The reader's view of a schema: no `additionalProperties: false` anywhere.

    Producers build closed models, but readers are tolerant (`decode` ignores unknown fields and
    CloudEvents extension attributes), so the published schemas allow what a newer version of
    the contract may add.
    """
    if isinstance(node, dict):
        return {
            k: _open(v) for k, v in node.items() if not (k == "additionalProperties" and v is False)
        }
    if isinstance(node, list):
        return [_open(v) for v in node]
    return node


def event_schema(cls: type[Event]) -> dict[str, Any]:
    """The JSON Schema of a full envelope carrying `cls`, with the residency recorded."""
    schema: dict[str, Any] = _open(Envelope[cls].model_json_schema())  # type: ignore[valid-type]
    schema["title"] = cls.__name__
    schema["x-echo-type"] = cls.event_type()
    schema["x-echo-residency"] = cls.residency.value
    schema["x-echo-superhub"] = cls.superhub
    return schema


def _relink(node: Any) -> Any:
    """Point `#/$defs/X` at `#/components/schemas/X` (the AsyncAPI document holds them all)."""
    if isinstance(node, dict):
        out = {k: _relink(v) for k, v in node.items()}
        ref = out.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            out["$ref"] = "#/components/schemas/" + ref.removeprefix("#/$defs/")
        return out
    if isinstance(node, list):
        return [_relink(v) for v in node]
    return node


def component_schemas() -> dict[str, Any]:
    """Every event's envelope schema (keyed by its CloudEvents `type`) and every part it uses."""
    schemas: dict[str, Any] = {}
    for cls in ALL_EVENTS:
        schema = event_schema(cls)
        for name, part in schema.pop("$defs", {}).items():
            part = _relink(part)
            if schemas.setdefault(name, part) != part:
                raise ValueError(f"two different schemas are both called {name!r}")
        schemas[cls.event_type()] = _relink(schema)
    return schemas


DURABLES = (
    "Integrators create, read and delete only their own durables, named"
    f" `{INTEGRATOR_PREFIX}<integrator>-<purpose>` (e.g. `hub-acme-events`), as pull consumers;"
    " the platform's durables (`<service>-<purpose>`) are refused."
)
AUDIENCES = f"""CloudEvents 1.0 (structured JSON) over NATS JetStream.

## Regional hub integrators (server `leaf`, or `embedded` in development)
Your region's stream `ECHO_<REGION>` (e.g. `ECHO_ONTARIO`) holds every event of your region,
`regional` and `network` residency alike, plus the superhub's programme templates
(`echo.network.scheduling.template_published`) sourced down into it. Another region's stream and
the superhub's streams are refused. {DURABLES}

## Superhub integrators (server `superhub`)
`{NETWORK_STREAM}` holds only the `network`-residency events of every region (ids, codes, numbers
and times: never personal data or clinical text), under their regional subjects
(`echo.<region>.<context>.<event>`); `{SUPERHUB_STREAM}` holds the templates the superhub
publishes. No region's own stream is readable from the superhub. {DURABLES}

## Reading tolerantly
A published `vN` type only gains optional fields; the schemas here allow properties they do
not list (on the envelope: CloudEvents extension attributes). Ignore what you do not know; an
unknown `type` (or a newer `...v2`) is `UnknownEvent` in `echo-contracts`: skip it or
dead-letter it. Deduplicate by the envelope `id` (also the `Nats-Msg-Id` header).
"""


def _jetstream(streams: list[str], filter_subject: str, **extra: str) -> dict[str, Any]:
    return {
        "streams": streams,
        "filterSubject": filter_subject,
        "durableNaming": f"{INTEGRATOR_PREFIX}<integrator>-<purpose>",
        "deliverPolicy": "all | new | by_start_time (replay from a time)",
        "ackPolicy": "explicit",
        **extra,
    }


def _servers() -> dict[str, Any]:
    auth = [{"$ref": "#/components/securitySchemes/natsUserPassword"}]
    return {
        "embedded": {
            "host": "127.0.0.1:{port}",
            "protocol": "nats",
            "title": "echo-hub dev: one embedded nats-server, every region, no authentication",
            "description": "`echo-hub dev` starts nats-server on a free port: read the `nats`"
            " URL from `<data-dir>/urls.json` (default `.echo-dev/urls.json`).",
            "variables": {"port": {"default": "4222", "description": "see urls.json"}},
        },
        "leaf": {
            "host": "{leaf}:4222",
            "protocol": "nats",
            "title": "A regional hub's leaf node (its own JetStream domain and account)",
            "description": "TLS in production. One integrator user per integrator, issued by"
            " `echo-hub integrator add NAME --region REGION`.",
            "variables": {"leaf": {"description": "the regional hub's NATS host"}},
            "security": auth,
        },
        "superhub": {
            "host": "{superhub}:4222",
            "protocol": "nats",
            "title": "The superhub's cluster (JetStream domain `hub`)",
            "description": "TLS in production. Integrator users issued by"
            " `echo-hub integrator add NAME --superhub`.",
            "variables": {"superhub": {"description": "the superhub's NATS host"}},
            "security": auth,
        },
    }


def asyncapi_document() -> dict[str, Any]:
    """An AsyncAPI 3.0 document, self-contained: servers per audience, one channel per event type
    and place it can be read from, and every schema inlined under `components.schemas`."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    region_param = {"region": {"description": "region slug, e.g. ontario"}}
    for cls in ALL_EVENTS:
        key = cls.__name__
        messages[key] = {
            "name": cls.event_type(),
            "title": key,
            "summary": (cls.__doc__ or "").strip().splitlines()[0],
            "contentType": "application/cloudevents+json",
            "headers": {
                "type": "object",
                "properties": {
                    "Nats-Msg-Id": {"type": "string", "format": "uuid"},
                    "ce-type": {"type": "string", "const": cls.event_type()},
                    "traceparent": {"type": "string"},
                },
            },
            "payload": {"$ref": f"#/components/schemas/{cls.event_type()}"},
            "x-echo-residency": cls.residency.value,
        }
        message_ref = {"$ref": f"#/components/messages/{key}"}
        places: list[tuple[str, list[str], list[str]]] = []  # (channel key, servers, streams)
        if cls.superhub:
            address = f"{PREFIX}.{NETWORK_REGION}.{cls.context}.{cls.event_name}"
            places.append(
                (key, ["embedded", "leaf", "superhub"], ["ECHO_<REGION>", SUPERHUB_STREAM])
            )
        else:
            address = f"{PREFIX}.{{region}}.{cls.context}.{cls.event_name}"
            places.append((key, ["embedded", "leaf"], ["ECHO_<REGION>"]))
            if cls.residency is Residency.NETWORK:
                places.append((f"{key}.network", ["superhub"], [NETWORK_STREAM]))
        for channel_key, servers, streams in places:
            channel: dict[str, Any] = {
                "address": address,
                "messages": {key: message_ref},
                "servers": [{"$ref": f"#/servers/{s}"} for s in servers],
                "bindings": {"nats": {}},
                "x-echo-jetstream": _jetstream(streams, address.replace("{region}", "<region>")),
            }
            if not cls.superhub:
                channel["parameters"] = region_param
            channels[channel_key] = channel
            operations[f"receive{channel_key.replace('.', '')}"] = {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{channel_key}"},
                "messages": [{"$ref": f"#/channels/{channel_key}/messages/{key}"}],
                "bindings": {"nats": {"bindingVersion": "0.1.0"}},
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "ECHO network platform events",
            "version": _version(),
            "description": AUDIENCES,
        },
        "defaultContentType": "application/cloudevents+json",
        "servers": _servers(),
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "schemas": component_schemas(),
            "securitySchemes": {
                "natsUserPassword": {
                    "type": "userPassword",
                    "description": "A NATS user and password per integrator (per region, or at"
                    " the superhub), from `echo-hub integrator add`.",
                }
            },
        },
    }


def _version() -> str:
    try:
        return metadata.version("echo-contracts")
    except metadata.PackageNotFoundError:  # imported from a source tree that is not installed
        return "0+unknown"


def render() -> dict[str, str]:
    """Every exported file, by path relative to the contracts folder."""
    files = {
        f"schemas/{cls.event_type()}.json": json.dumps(event_schema(cls), indent=2, sort_keys=True)
        + "\n"
        for cls in ALL_EVENTS
    }
    files["asyncapi.json"] = json.dumps(asyncapi_document(), indent=2, sort_keys=True) + "\n"
    return files


def main(argv: list[str] | None = None) -> int:
    """Write the exported files under DIR (default: the contracts folder of this checkout)."""
    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0]) if args else DEFAULT_DIR
    (target / "schemas").mkdir(parents=True, exist_ok=True)
    for rel, text in render().items():
        (target / rel).write_text(text)
    print(f"wrote {len(render())} files under {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
