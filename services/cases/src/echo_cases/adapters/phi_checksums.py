"""Identifiers whose check digits `python-stdnum` knows, found without a label.

A digit group of the right length whose check digit is right is an identifier even without a
label in front of it: Canadian SIN (Luhn), UK NHS and Northern Ireland H&C numbers (mod 11),
Indian Aadhaar (Verhoeff) and its 16-digit virtual id, the Chinese resident identity number
(ISO 7064), the Korean resident registration number, the French NIR, US SSNs in their 3-2-4
shape, IBANs, and IMEIs (Luhn). A random digit group passes a check digit about one time in ten,
so the groups must look like the identifier (its length and usual grouping); numbers followed
by a unit are quantities and never checked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from stdnum import iban, imei
from stdnum.ca import sin
from stdnum.cn import ric
from stdnum.fr import nir
from stdnum.gb import nhs
from stdnum.in_ import aadhaar, vid
from stdnum.kr import rrn
from stdnum.us import ssn

from echo_cases.domain.screening import PhiCategory

C = PhiCategory

#: Digit groups joined by single spaces or hyphens (9 to 18 digits are checked).
_GROUPED = re.compile(r"(?<![\w.,/+-])\d{1,18}(?:[ -]\d{1,8}){0,6}[Xx]?(?![\w/-]|[.,]\d)")
_NINE_DIGITS = re.compile(r"\d(?:[ -]?\d){8}")
_SSN_SHAPE = re.compile(r"\d{3}-\d{2}-\d{4}")
_RRN_SHAPE = re.compile(r"\d{6}-?\d{7}")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")
_UNIT_AFTER = re.compile(
    r"\s*(?:copies|IU|iu|cells|units?|U\b|mg|mcg|ug|µg|ng|pg|g\b|kg|mL|ml|L\b|mmol|%|/|x\s*10"
    r"|per\b|cfu|CFU|mm3|kPa|mmHg)"
)

_Check = tuple[int, Callable[[str], bool], PhiCategory]
#: By number of digits: the validators to try, in order, and the category of a pass.
_BY_LENGTH: dict[int, tuple[_Check, ...]] = {
    9: ((9, sin.is_valid, C.NATIONAL_ID),),
    10: ((10, nhs.is_valid, C.HEALTH_PLAN_NUMBER),),
    12: ((12, aadhaar.is_valid, C.NATIONAL_ID),),
    13: ((13, rrn.is_valid, C.NATIONAL_ID),),
    15: ((15, nir.is_valid, C.NATIONAL_ID), (15, imei.is_valid, C.DEVICE_ID)),
    16: ((16, vid.is_valid, C.NATIONAL_ID),),
    18: ((18, ric.is_valid, C.NATIONAL_ID),),
}


def checksummed_ids(text: str) -> Iterator[tuple[int, int, PhiCategory]]:
    """Digit groups (and IBANs) whose check digits make them identifiers."""
    if _NINE_DIGITS.search(text) is None:
        groups: list[re.Match[str]] = []
    else:
        groups = list(_GROUPED.finditer(text))
    for m in groups:
        value = m.group(0)
        digits = re.sub(r"[ -]", "", value)
        if len(digits) < 9 or _UNIT_AFTER.match(text, m.end()):
            continue
        if len(digits) == 9 and _SSN_SHAPE.fullmatch(value) and ssn.is_valid(value):
            yield m.start(), m.end(), C.NATIONAL_ID
            continue
        if len(digits) == 13 and not _RRN_SHAPE.fullmatch(value):
            continue  # a Korean number is written 6-7; other 13-digit groups are not checked
        for _, valid, category in _BY_LENGTH.get(len(digits), ()):
            if valid(digits):
                yield m.start(), m.end(), category
                break
    for m in _IBAN.finditer(text):
        if iban.is_valid(m.group(0)):
            yield m.start(), m.end(), C.ACCOUNT_NUMBER
