"""Export the JSON Schemas and the AsyncAPI 3 document checked in under `contracts/`.

`python -m echo_contracts.export [DIR]` rewrites them; a test fails when code and files drift.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from echo_contracts.envelope import Envelope, Event
from echo_contracts.events import ALL_EVENTS
from echo_contracts.subjects import PREFIX

DEFAULT_DIR = Path(__file__).resolve().parents[2]


def event_schema(cls: type[Event]) -> dict[str, Any]:
    """The JSON Schema of a full envelope carrying `cls`, with the residency recorded."""
    schema = Envelope[cls].model_json_schema()  # type: ignore[valid-type]
    schema["title"] = cls.__name__
    schema["x-echo-type"] = cls.event_type()
    schema["x-echo-residency"] = cls.residency.value
    schema["x-echo-superhub"] = cls.superhub
    return schema


def asyncapi_document() -> dict[str, Any]:
    """An AsyncAPI 3.0 document: one channel and one receive operation per event type."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for cls in ALL_EVENTS:
        key = cls.__name__
        region = "network" if cls.superhub else "{region}"
        address = f"{PREFIX}.{region}.{cls.context}.{cls.event_name}"
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
            "payload": {"$ref": f"schemas/{cls.event_type()}.json"},
            "x-echo-residency": cls.residency.value,
        }
        channel: dict[str, Any] = {
            "address": address,
            "messages": {key: {"$ref": f"#/components/messages/{key}"}},
        }
        if not cls.superhub:
            channel["parameters"] = {"region": {"description": "region slug, e.g. ontario"}}
        channels[key] = channel
        operations[f"receive{key}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{key}"},
            "messages": [{"$ref": f"#/channels/{key}/messages/{key}"}],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "ECHO network platform events",
            "version": "1.0.0",
            "description": "CloudEvents 1.0 over NATS JetStream, a stream ECHO_<REGION> each.",
        },
        "defaultContentType": "application/cloudevents+json",
        "servers": {
            "embedded": {"host": "localhost:4222", "protocol": "nats"},
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


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
