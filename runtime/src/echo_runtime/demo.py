"""The fictional people of `echo-hub dev`: the seed registers them, the console signs them in.

Their ids are fixed (derived from region and position) so a demo spoke's development token
names the participant record the seed created for them.
"""

from __future__ import annotations

import uuid

#: Spoke clinicians enrolled in each region's demo programme: (name, profession).
DEMO_SPOKES: tuple[tuple[str, str], ...] = (
    ("Avery Demo", "physician"),
    ("Blake Demo", "nurse_practitioner"),
    ("Casey Demo", "pharmacist"),
)

#: Hub-side people of each region: (name, role).
DEMO_STAFF: tuple[tuple[str, str], ...] = (
    ("Harper Coordinator", "hub-admin"),
    ("Finley Facilitator", "facilitator"),
    ("Emerson Expert", "expert"),
    ("Oakley Observer", "observer"),
)


def demo_person_id(region: str, key: str) -> uuid.UUID:
    """The stable id of demo person `key` (a spoke's position or a role) in `region`."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"echo-demo:{region}:{key}")
