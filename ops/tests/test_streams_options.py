"""`echo-hub streams apply` flags: a leaf, the superhub, one server (no NATS needed)."""

from __future__ import annotations

import pytest
from echo_contracts.topology import NETWORK_STREAM, network_stream, network_subjects, region_stream
from echo_hub.cli import build_parser
from echo_hub.streams import ApplyOptions
from echo_runtime.provision import stream_config


def options(*argv: str) -> ApplyOptions:
    return ApplyOptions.from_args(build_parser().parse_args(["streams", "apply", *argv]))


def test_one_server_is_the_default() -> None:
    found = options()
    assert (found.network, found.regional, found.superhub_api, found.region_apis) == (
        True,
        True,
        None,
        {},
    )


def test_a_leaf_gets_the_deliver_prefix_its_account_imports() -> None:
    found = options("--no-network", "--regions", "ontario", "--superhub-api", "$JS.hub.API")
    assert (found.network, found.regional) == (False, True)
    assert found.superhub_deliver == "deliver.ONTARIO.ECHO_SUPERHUB"
    custom = options(
        "--no-network",
        "--regions",
        "ontario",
        "--superhub-api",
        "$JS.hub.API",
        "--deliver-prefix",
        "deliver.X.Y",
    )
    assert custom.superhub_deliver == "deliver.X.Y"


def test_the_superhub_gets_one_api_and_deliver_prefix_per_region() -> None:
    found = options(
        "--network-only",
        "--regions",
        "ontario,northern-ireland",
        "--region-api",
        "ontario=$JS.ontario.API",
        "--region-api",
        "northern-ireland=$JS.northern-ireland.API",
    )
    assert (found.network, found.regional) == (True, False)
    assert found.region_delivers == {
        "ontario": "deliver.HUB.ECHO_ONTARIO",
        "northern-ireland": "deliver.HUB.ECHO_NORTHERN_IRELAND",
    }


@pytest.mark.parametrize(
    "argv",
    [
        ["--superhub-api", "$JS.hub.API"],  # a leaf without --no-network
        ["--no-network", "--regions", "ontario,shanghai", "--superhub-api", "$JS.hub.API"],
        ["--no-network", "--region-api", "ontario=$JS.ontario.API"],
        ["--network-only", "--regions", "ontario", "--region-api", "shanghai=$JS.shanghai.API"],
        ["--network-only", "--regions", "ontario", "--region-deliver", "ontario=deliver.HUB.X"],
        ["--deliver-prefix", "deliver.X"],
    ],
)
def test_contradictions_are_refused(argv: list[str]) -> None:
    with pytest.raises(ValueError, match="--"):
        options(*argv)


def test_network_sources_one_subject_each_with_api_and_deliver() -> None:
    config = stream_config(
        network_stream(
            ["ontario", "shanghai"],
            region_apis={"ontario": "$JS.ontario.API"},
            region_delivers={"ontario": "deliver.HUB.ECHO_ONTARIO"},
        )
    )
    assert config.name == NETWORK_STREAM
    sources = config.sources or []
    assert len(sources) == len(network_subjects("ontario")) + len(network_subjects("shanghai"))
    for source in sources:
        assert len(source.subject_transforms or []) == 1
        if source.name == "ECHO_ONTARIO":
            assert source.external is not None
            assert (source.external.api, source.external.deliver) == (
                "$JS.ontario.API",
                "deliver.HUB.ECHO_ONTARIO",
            )
        else:
            assert source.external is None  # same domain: the single-server default
    leaf = stream_config(
        region_stream("ontario", superhub_api="$JS.hub.API", superhub_deliver="deliver.O.S")
    )
    assert [(s.external.api, s.external.deliver) for s in leaf.sources or [] if s.external] == [
        ("$JS.hub.API", "deliver.O.S")
    ]
