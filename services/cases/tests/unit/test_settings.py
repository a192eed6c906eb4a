"""Settings of the cases service come from `CASES_` variables and refuse what cannot work."""

from __future__ import annotations

import pydantic
import pytest
from echo_cases.settings import CasesSettings


def test_the_defaults_serve_on_port_8102_and_read_phones_of_three_regions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CASES_PHONE_REGIONS", raising=False)
    settings = CasesSettings()
    assert (settings.service, settings.port) == ("cases", 8102)
    assert settings.phone_regions == ["CA", "GB", "CN"]


def test_phone_regions_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASES_PHONE_REGIONS", "ca, gb,na")
    assert CasesSettings().phone_regions == ["CA", "GB", "NA"]
    monkeypatch.setenv("CASES_PHONE_REGIONS", "XX")
    with pytest.raises(pydantic.ValidationError, match="unknown phone regions"):
        CasesSettings()
