"""Write the checked-in nats-server configs of the superhub and regional leaf topology.

The subjects in the permissions, exports and imports come from `echo_contracts.topology`, so a
new event type or region cannot drift from what the servers allow: `tests/deploy` regenerates
these files and fails when the checked-in copies differ. Run from the repository root:

    .venv/bin/python deploy/nats/generate.py

Everything that differs between machines (ports, hosts, routes, store directory, passwords,
certificate paths) is a `$VARIABLE` that nats-server resolves from its environment, so the same
file serves Kubernetes, a VM and the loopback tests. No secret is written here.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from echo_contracts.subjects import PREFIX
from echo_contracts.topology import (
    CONSUMERS,
    DEFAULT_INTEGRATOR_PURPOSES,
    HUB_ACCOUNT,
    HUB_DOMAIN,
    NETWORK_STREAM,
    SUPERHUB_STREAM,
    account_name,
    deliver_prefix,
    integrator_dead_letter_subjects,
    integrator_durable,
    network_subjects,
    stream_name,
    superhub_subjects,
)
from echo_contracts.types import NETWORK_REGION

REGIONS = ("ontario", "northern-ireland", "shanghai")
SERVICES = ("scheduling", "cases", "attendance", "notifications", "reporting")
#: Services that publish events (reporting only reads).
PUBLISHERS = ("scheduling", "cases", "attendance", "notifications")
HERE = Path(__file__).resolve().parent


def env_name(*parts: str) -> str:
    """An environment variable name: `env_name("ontario", "cases")` -> `ONTARIO_CASES`."""
    return "_".join(p.upper().replace("-", "_") for p in parts)


def _q(value: str) -> str:
    return '"' + value + '"'


def _list(values: Iterable[str], indent: int) -> str:
    pad = " " * indent
    return "[\n" + "".join(f"{pad}  {_q(v)}\n" for v in values) + f"{pad}]"


@dataclass(frozen=True)
class User:
    name: str
    password_var: str
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    comment: str

    def render(self, indent: int) -> str:
        pad = " " * indent
        return (
            f"{pad}# {self.comment}\n"
            f"{pad}{{\n"
            f"{pad}  user: {_q(self.name)}\n"
            f"{pad}  password: ${self.password_var}\n"
            f"{pad}  permissions: {{\n"
            f"{pad}    publish: {{ allow: {_list(self.publish, indent + 4)} }}\n"
            f"{pad}    subscribe: {{ allow: {_list(self.subscribe, indent + 4)} }}\n"
            f"{pad}  }}\n"
            f"{pad}}}\n"
        )


def _consumer_api(stream: str, durable: str) -> tuple[str, ...]:
    """The JetStream API calls a service makes on its own durable pull consumer, nothing more."""
    return (
        "$JS.API.INFO",
        f"$JS.API.STREAM.INFO.{stream}",
        f"$JS.API.CONSUMER.INFO.{stream}.{durable}",
        f"$JS.API.CONSUMER.CREATE.{stream}.{durable}",
        f"$JS.API.CONSUMER.CREATE.{stream}.{durable}.>",
        f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.{durable}",
        f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}",
        f"$JS.ACK.{stream}.{durable}.>",
    )


def _replay_api(stream: str) -> tuple[str, ...]:
    """Ordered (ephemeral, unnamed) consumers over a whole stream: reporting's rebuild.

    Unnamed creates only: a name would let the holder re-create another's durable. No
    `CONSUMER.DELETE`: nats-py never deletes a consumer, and a reader must not delete the
    services' durables (it could, before: `cases-inbox` by reporting's user).
    """
    return (
        "$JS.API.INFO",
        f"$JS.API.STREAM.INFO.{stream}",
        f"$JS.API.STREAM.MSG.GET.{stream}",
        f"$JS.API.CONSUMER.INFO.{stream}.>",
        f"$JS.API.CONSUMER.CREATE.{stream}",
        f"$JS.FC.{stream}.>",
    )


def _reader_api(stream: str) -> tuple[str, ...]:
    """The superhub's reporting on ECHO_NETWORK/ECHO_SUPERHUB: its per-region durables and
    ephemeral pull consumers (named by the server, so not pinnable); never DELETE."""
    return (
        *_replay_api(stream),
        f"$JS.API.CONSUMER.CREATE.{stream}.>",
        f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.>",
        f"$JS.API.CONSUMER.MSG.NEXT.{stream}.>",
        f"$JS.ACK.{stream}.>",
    )


def _integrator_api(stream: str, durables: Iterable[str]) -> tuple[str, ...]:
    """An integrator's own durables on one stream: create, read, ack and delete; nothing else."""
    calls = ["$JS.API.INFO", f"$JS.API.STREAM.INFO.{stream}"]
    for durable in durables:
        calls += [
            f"$JS.API.CONSUMER.INFO.{stream}.{durable}",
            f"$JS.API.CONSUMER.CREATE.{stream}.{durable}",
            f"$JS.API.CONSUMER.CREATE.{stream}.{durable}.>",
            f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.{durable}",
            f"$JS.API.CONSUMER.DELETE.{stream}.{durable}",
            f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}",
            f"$JS.ACK.{stream}.{durable}.>",
        ]
    return tuple(calls)


def integrator_user(
    name: str,
    stream: str,
    password_var: str,
    purposes: Iterable[str] = DEFAULT_INTEGRATOR_PURPOSES,
) -> User:
    """A read-only integrator: its `hub-<name>-<purpose>` durables on one stream, its own dead
    letters' advisories, and no event subject at all (it publishes nothing).

    NATS wildcards match whole tokens and a durable name is one token, so `hub-<name>-*` cannot
    be granted as a pattern: each durable is listed (`echo-hub integrator add --purpose`).
    """
    durables = [integrator_durable(name, p) for p in purposes]
    advisories = [a for d in durables for a in integrator_dead_letter_subjects(stream, d)]
    return User(
        name=name,
        password_var=password_var,
        publish=_integrator_api(stream, durables),
        subscribe=("_INBOX.>", *advisories),
        comment=f"integrator {name}: reads {stream} through {', '.join(durables)}; publishes none",
    )


def _admin_user(scope: str, region_slug: str, comment: str) -> User:
    # The operator re-drives dead letters onto their original subjects, hence the event prefix.
    return User(
        name="admin",
        password_var=env_name(scope, "ADMIN", "NATS_PASSWORD"),
        publish=("$JS.API.>", f"{PREFIX}.{region_slug}.>"),
        subscribe=("_INBOX.>", "$JS.EVENT.ADVISORY.>"),
        comment=comment,
    )


def region_users(region: str) -> list[User]:
    """The users of a region's account: one per service, least privilege, plus the operator."""
    stream = stream_name(region)
    users = [
        _admin_user(
            region, region, "operator: `echo-hub streams apply|dlq|replay` (JetStream API only)"
        )
    ]
    for service in SERVICES:
        publish: list[str] = []
        if service in PUBLISHERS:
            publish.append(f"{PREFIX}.{region}.{service}.>")
        for spec in CONSUMERS:
            if spec.service != service:
                continue
            publish.extend(_consumer_api(stream, spec.durable))
            if service == "reporting":
                publish.extend(_replay_api(stream))
        users.append(
            User(
                name=service,
                password_var=env_name(region, service, "NATS_PASSWORD"),
                publish=tuple(dict.fromkeys(publish)),
                subscribe=("_INBOX.>",),
                comment=(
                    f"{service}: publishes {PREFIX}.{region}.{service}.> only"
                    if service in PUBLISHERS
                    else f"{service}: reads {stream}, publishes no events"
                ),
            )
        )
    users.append(
        integrator_user("integrator", stream, env_name(region, "integrator", "NATS_PASSWORD"))
    )
    return users


def hub_users() -> list[User]:
    """The superhub's own users: the operator, template publishing, network-wide reporting."""
    return [
        _admin_user(
            "hub", NETWORK_REGION, "operator: provisions ECHO_SUPERHUB, ECHO_NETWORK, ECHO_DLQ"
        ),
        User(
            name="scheduling",
            password_var=env_name("hub", "scheduling", "NATS_PASSWORD"),
            publish=(
                f"{PREFIX}.{NETWORK_REGION}.scheduling.>",
                "$JS.API.INFO",
                f"$JS.API.STREAM.INFO.{SUPERHUB_STREAM}",
            ),
            subscribe=("_INBOX.>",),
            comment="scheduling at the superhub: publishes programme templates only",
        ),
        User(
            name="reporting",
            password_var=env_name("hub", "reporting", "NATS_PASSWORD"),
            publish=tuple(
                dict.fromkeys(_reader_api(NETWORK_STREAM) + _reader_api(SUPERHUB_STREAM))
            ),
            subscribe=("_INBOX.>",),
            comment="network-wide reporting: reads ECHO_NETWORK and ECHO_SUPERHUB, publishes none",
        ),
        integrator_user(
            "integrator", NETWORK_STREAM, env_name("hub", "integrator", "NATS_PASSWORD")
        ),
    ]


def hub_exports_to_regions() -> list[str]:
    """What the hub account offers every region: consumers on its templates, pinned by filter."""
    lines = []
    for subject in superhub_subjects():
        lines.append(
            f"$JS.API.CONSUMER.CREATE.{SUPERHUB_STREAM}.*.{subject}",
        )
    return lines


def region_exports_to_hub(region: str) -> list[str]:
    """What a region's account offers the hub: consumers on its `network` subjects, one each."""
    stream = stream_name(region)
    return [f"$JS.{region}.API.CONSUMER.CREATE.{stream}.*.{s}" for s in network_subjects(region)]


def _account_block(
    name: str,
    *,
    jetstream: bool,
    users: list[User],
    exports: list[str],
    imports: list[str],
    indent: int = 2,
) -> str:
    pad = " " * indent
    out = f"{pad}{name}: {{\n"
    if jetstream:
        out += f"{pad}  jetstream: enabled\n"
    if users:
        out += f"{pad}  users: [\n"
        out += "".join(u.render(indent + 4) for u in users)
        out += f"{pad}  ]\n"
    if exports:
        out += f"{pad}  exports: [\n" + "".join(f"{pad}    {e}\n" for e in exports) + f"{pad}  ]\n"
    if imports:
        out += f"{pad}  imports: [\n" + "".join(f"{pad}    {i}\n" for i in imports) + f"{pad}  ]\n"
    return out + f"{pad}}}\n"


def _service_export(subject: str, accounts: list[str]) -> str:
    return f"{{ service: {_q(subject)}, accounts: [{', '.join(accounts)}] }}"


def _stream_export(subject: str, accounts: list[str]) -> str:
    return f"{{ stream: {_q(subject)}, accounts: [{', '.join(accounts)}] }}"


def _service_import(account: str, subject: str) -> str:
    return f"{{ service: {{ account: {account}, subject: {_q(subject)} }} }}"


def _stream_import(account: str, subject: str) -> str:
    return f"{{ stream: {{ account: {account}, subject: {_q(subject)} }} }}"


def _tls(indent: int, kind: str, *, verify: bool) -> str:
    pad = " " * indent
    out = (
        f"{pad}tls {{\n"
        f"{pad}  cert_file: $NATS_TLS_CERT\n"
        f"{pad}  key_file: $NATS_TLS_KEY\n"
        f"{pad}  ca_file: $NATS_TLS_CA\n"
    )
    if verify:
        out += f"{pad}  verify: true\n"
    out += f"{pad}  timeout: 3\n"
    return out + f"{pad}}}  # {kind}\n"


def _system_account() -> str:
    return '  SYS: {\n    users: [ { user: "sys", password: $NATS_SYS_PASSWORD } ]\n  }\n'


def _server_head(title: str, tls: bool) -> str:
    head = (
        f"# {title}\n"
        "# GENERATED by deploy/nats/generate.py from echo_contracts.topology: do not edit.\n"
        "# Every $VARIABLE comes from the server's environment (see deploy/README.md).\n\n"
        "server_name: $NATS_SERVER_NAME\n"
        "host: $NATS_HOST\n"
        "port: $NATS_PORT\n"
        "http_port: $NATS_HTTP_PORT\n"
        "max_payload: 1MB\n"
        "lame_duck_duration: 30s\n"
    )
    if tls:
        head += "\n# Clients must speak TLS; the certificate comes from a mounted secret.\n"
        head += _tls(0, "clients", verify=False)
    return head


def superhub_config(*, tls: bool) -> str:
    """One config for the three superhub servers (name, routes and ports from the environment)."""
    regions = [account_name(r) for r in REGIONS]
    hub_exports = [_service_export(s, regions) for s in hub_exports_to_regions()] + [
        _service_export(f"$JS.FC.{SUPERHUB_STREAM}.>", regions),
        *[
            _stream_export(
                deliver_prefix(account_name(r), SUPERHUB_STREAM) + ".>", [account_name(r)]
            )
            for r in REGIONS
        ],
    ]
    hub_imports = []
    for region in REGIONS:
        acc = account_name(region)
        hub_imports += [_service_import(acc, s) for s in region_exports_to_hub(region)]
        hub_imports += [
            _service_import(acc, f"$JS.FC.{stream_name(region)}.>"),
            _stream_import(acc, deliver_prefix(HUB_ACCOUNT, stream_name(region)) + ".>"),
        ]
    out = _server_head(
        "ECHO superhub: one of three clustered servers, JetStream domain `hub`, R3 streams", tls
    )
    out += (
        "\njetstream {\n"
        f"  domain: {HUB_DOMAIN}\n"
        "  store_dir: $NATS_STORE_DIR\n"
        "  max_file_store: $NATS_MAX_FILE_STORE\n"
        "  max_memory_store: 256MB\n"
        "  # fsync every write: an acked event survives a crash of the whole cluster\n"
        "  sync_interval: always\n"
        "}\n\n"
        "cluster {\n"
        "  name: echo-superhub\n"
        "  host: $NATS_HOST\n"
        "  port: $NATS_CLUSTER_PORT\n"
        '  authorization { user: "route", password: $NATS_ROUTE_PASSWORD, timeout: 2 }\n'
        "  # nats-route://route:<password>@<host>:<port> of all three servers (self is ignored)\n"
        "  routes: [$NATS_ROUTE_1, $NATS_ROUTE_2, $NATS_ROUTE_3]\n"
        "  no_advertise: true\n"
    )
    if tls:
        out += _tls(2, "routes: mutual TLS", verify=True)
    out += "}\n\nleafnodes {\n  host: $NATS_HOST\n  port: $NATS_LEAF_PORT\n"
    if tls:
        out += _tls(2, "leaf nodes: mutual TLS", verify=True)
    out += "  authorization {\n    users: [\n"
    for region in REGIONS:
        out += (
            f"      {{ user: {_q('leaf-' + region)}, "
            f"password: ${env_name('leaf', region, 'NATS_PASSWORD')}, "
            f"account: {account_name(region)} }}\n"
        )
    out += "    ]\n  }\n}\n\nsystem_account: SYS\n\naccounts {\n"
    out += _system_account()
    out += _account_block(
        HUB_ACCOUNT, jetstream=True, users=hub_users(), exports=hub_exports, imports=hub_imports
    )
    for region in REGIONS:
        acc = account_name(region)
        stream = stream_name(region)
        exports = [_service_export(s, [HUB_ACCOUNT]) for s in region_exports_to_hub(region)]
        exports += [
            _service_export(f"$JS.FC.{stream}.>", [HUB_ACCOUNT]),
            _stream_export(deliver_prefix(HUB_ACCOUNT, stream) + ".>", [HUB_ACCOUNT]),
        ]
        imports = [_service_import(HUB_ACCOUNT, s) for s in hub_exports_to_regions()]
        imports += [
            _service_import(HUB_ACCOUNT, f"$JS.FC.{SUPERHUB_STREAM}.>"),
            _stream_import(HUB_ACCOUNT, deliver_prefix(acc, SUPERHUB_STREAM) + ".>"),
        ]
        out += (
            f"  # {region}'s leaf node binds here; only the pinned JetStream calls cross accounts\n"
        )
        out += _account_block(acc, jetstream=False, users=[], exports=exports, imports=imports)
    return out + "}\n"


def leaf_config(region: str, *, tls: bool) -> str:
    """A regional hub's server: its own JetStream domain and account, a leaf of the superhub."""
    acc = account_name(region)
    out = _server_head(
        f"ECHO regional hub `{region}`: JetStream domain `{region}`, account {acc}, leaf of the"
        " superhub",
        tls,
    )
    out += (
        "\njetstream {\n"
        f"  domain: {region}\n"
        "  store_dir: $NATS_STORE_DIR\n"
        "  max_file_store: $NATS_MAX_FILE_STORE\n"
        "  max_memory_store: 256MB\n"
        "  sync_interval: always\n"
        "}\n\n"
        "leafnodes {\n"
        "  # nats-leaf://leaf-<region>:<password>@<superhub>:7422, from a secret\n"
        "  remotes: [\n"
        "    {\n"
        "      url: $NATS_HUB_LEAF_URL\n"
        f"      account: {acc}\n"
    )
    if tls:
        out += _tls(6, "to the superhub: mutual TLS", verify=False)
    out += "    }\n  ]\n}\n\nsystem_account: SYS\n\naccounts {\n"
    out += _system_account()
    out += _account_block(acc, jetstream=True, users=region_users(region), exports=[], imports=[])
    return out + "}\n"


def rendered_files() -> dict[Path, str]:
    """Every generated file and its content."""
    files: dict[Path, str] = {}
    for tls in (False, True):
        suffix = ".prod.conf" if tls else ".conf"
        files[HERE / f"superhub{suffix}"] = superhub_config(tls=tls)
        for region in REGIONS:
            files[HERE / f"leaf-{region}{suffix}"] = leaf_config(region, tls=tls)
    return files


def main() -> int:
    for path, text in rendered_files().items():
        path.write_text(text)
        print(f"wrote {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
