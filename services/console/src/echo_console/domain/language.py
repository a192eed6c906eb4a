"""The console's languages: which one a person gets, and how dates read in it."""

from __future__ import annotations

from datetime import date, datetime

from echo_console.domain.messages import MESSAGES

LANGUAGES = ("en", "fr", "zh-Hans")
DEFAULT = "en"
#: Names of the languages in themselves, for the language switcher.
NATIVE_NAMES = {"en": "English", "fr": "Français", "zh-Hans": "简体中文"}


def supported(tag: str | None) -> str | None:
    """The console language for a BCP 47 tag (`zh-CN` and `zh` read Simplified Chinese)."""
    if not tag:
        return None
    tag = tag.strip()
    lowered = tag.lower()
    if lowered.startswith("zh"):
        traditional = any(p in lowered for p in ("hant", "-tw", "-hk", "-mo"))
        return None if traditional else "zh-Hans"
    primary = lowered.split("-", 1)[0]
    return primary if primary in LANGUAGES else None


def negotiate(preference: str | None, accept_language: str | None) -> str:
    """The person's own preference, else the best of the browser's `Accept-Language`."""
    chosen = supported(preference)
    if chosen:
        return chosen
    weighted: list[tuple[float, int, str]] = []
    for n, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        language = supported(tag)
        if language and q > 0:
            weighted.append((-q, n, language))
    return min(weighted)[2] if weighted else DEFAULT


def translate(language: str, key: str, **values: object) -> str:
    """The message `key` in `language` (English when it lacks one), with `{values}` filled in."""
    table = MESSAGES.get(language, {})
    text = table.get(key) or MESSAGES[DEFAULT].get(key)
    if text is None:  # a code the catalogue lacks (a new PHI category, metric ...): its name
        text = key.rsplit(".", 1)[-1].replace("_", " ")
    return text.format(**values) if values else text


_WEEKDAYS = {
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    "fr": ("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."),
    "zh-Hans": ("周一", "周二", "周三", "周四", "周五", "周六", "周日"),
}


def format_date(language: str, day: date) -> str:
    weekday = _WEEKDAYS.get(language, _WEEKDAYS[DEFAULT])[day.weekday()]
    if language == "zh-Hans":
        return f"{day.year}年{day.month}月{day.day}日 {weekday}"
    if language == "fr":
        return f"{weekday} {day.day:02d}/{day.month:02d}/{day.year}"
    return f"{weekday} {day.isoformat()}"


def format_datetime(language: str, moment: datetime) -> str:
    """A local date and time as people of `language` write it (24-hour clock, zone abbreviation)."""
    zone = moment.tzname() or ""
    clock = f"{moment.hour:02d}:{moment.minute:02d}"
    if language == "fr":
        clock = f"{moment.hour:02d} h {moment.minute:02d}"
    return f"{format_date(language, moment.date())} {clock} {zone}".strip()
