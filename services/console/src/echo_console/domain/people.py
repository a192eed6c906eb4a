"""Who is signed in, and which pages their roles lead to (the services still decide access)."""

from __future__ import annotations

from dataclasses import dataclass

HUB_ADMIN = "hub-admin"
FACILITATOR = "facilitator"
EXPERT = "expert"
SPOKE = "spoke"
OBSERVER = "observer"
NETWORK_ADMIN = "network-admin"


@dataclass(frozen=True)
class Person:
    """The signed-in person as their token describes them."""

    subject: str
    name: str
    roles: frozenset[str]
    regions: frozenset[str]
    programmes: frozenset[str] | None = None

    def has(self, *roles: str) -> bool:
        return NETWORK_ADMIN in self.roles or bool(self.roles.intersection(roles))

    @property
    def coordinates(self) -> bool:
        """Hub-admins (and network-admins) create programmes and run their operations."""
        return self.has(HUB_ADMIN)

    @property
    def reviews(self) -> bool:
        """Facilitators and experts review cases and write recommendations."""
        return self.has(HUB_ADMIN, FACILITATOR, EXPERT)

    @property
    def presents(self) -> bool:
        """Spokes register, present cases and earn credit."""
        return SPOKE in self.roles

    @property
    def reads_reports(self) -> bool:
        return self.has(HUB_ADMIN, FACILITATOR, EXPERT, OBSERVER)

    @property
    def home_region(self) -> str | None:
        named = sorted(r for r in self.regions if r != "*")
        return named[0] if named else None


@dataclass(frozen=True)
class MenuEntry:
    path: str
    label: str


def menu_for(person: Person) -> list[MenuEntry]:
    """The navigation of a person: one entry per page their roles use (labels are message keys)."""
    entries = [MenuEntry("/programmes", "nav.programmes")]
    if person.coordinates:
        entries.append(MenuEntry("/programmes/new", "nav.new_programme"))
    if person.reviews:
        entries.append(MenuEntry("/review", "nav.review"))
    if person.presents:
        entries.append(MenuEntry("/me/cases", "nav.my_cases"))
        entries.append(MenuEntry("/me/credits", "nav.my_credits"))
        entries.append(MenuEntry("/me/preferences", "nav.preferences"))
    if person.coordinates:
        entries.append(MenuEntry("/deliveries", "nav.deliveries"))
    if person.reads_reports:
        entries.append(MenuEntry("/reports", "nav.reports"))
    return entries
