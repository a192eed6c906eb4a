"""Constrained value types shared by every event.

A `network` event may only use these (or UUIDs, numbers, enums, dates), so that no field of an
event that leaves its region can carry free text or contact data.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

REGION_PATTERN = r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$"
_REGION_RE = re.compile(REGION_PATTERN)
#: The region slug used by the superhub's own subjects; no hub region may take it.
NETWORK_REGION = "network"


def _check_region(value: str) -> str:
    if not _REGION_RE.match(value):
        raise ValueError(
            "a region is a lowercase slug of 3-32 letters, digits and hyphens, e.g. 'ontario'"
        )
    return value


Region = Annotated[
    str,
    StringConstraints(pattern=REGION_PATTERN, max_length=32),
    AfterValidator(_check_region),
]
#: A short machine code: an enum-like value that is not worth an Enum class in the contract.
Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.-]{0,63}$", max_length=64)]
#: An IANA time zone name such as `America/Toronto`.
TimeZoneName = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}$", max_length=64),
]
#: A BCP 47 language tag such as `en`, `fr` or `zh-Hans`.
LanguageTag = Annotated[
    str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}$", max_length=20)
]
#: Free text: allowed only in `regional` events.
Text = Annotated[str, StringConstraints(max_length=20_000)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)]
