"""Generated texts: clinical numbers of every shape pass; planted identifiers are found."""

from __future__ import annotations

from echo_cases.adapters.phi_screener import RegexPhiScreener
from echo_cases.domain.screening import PhiCategory
from hypothesis import given, settings
from hypothesis import strategies as st

SCREENER = RegexPhiScreener()

DRUGS = ["metformin", "sertraline", "apixaban", "methadone", "insulin glargine", "lithium"]
UNITS = ["mg", "mcg", "units", "mL", "g"]
LABS = [
    ("HbA1c", "%"),
    ("eGFR", "mL/min"),
    ("creatinine", "umol/L"),
    ("LDL", "mmol/L"),
    ("viral load", "copies/mL"),
    ("CD4", "cells/uL"),
    ("ferritin", "ug/L"),
    ("TSH", "mIU/L"),
]
SPANS = ["days", "weeks", "months", "years"]

numbers = st.integers(min_value=0, max_value=50_000_000)
small = st.integers(min_value=1, max_value=60)

clinical_sentence = st.one_of(
    st.builds(
        lambda d, n, u, k, span: f"{d} {n} {u} daily for {k} {span}.",
        st.sampled_from(DRUGS),
        numbers,
        st.sampled_from(UNITS),
        small,
        st.sampled_from(SPANS),
    ),
    st.builds(
        lambda lab, v, frac: f"{lab[0]} {v}.{frac} {lab[1]}.",
        st.sampled_from(LABS),
        numbers,
        st.integers(0, 9),
    ),
    st.builds(
        lambda s, d, hr, sat: f"BP {s}/{d}, HR {hr}, SpO2 {sat}%.",
        st.integers(70, 230),
        st.integers(40, 130),
        st.integers(30, 200),
        st.integers(70, 100),
    ),
    st.builds(lambda a: f"A {a}-year-old with 2 admissions.", st.integers(1, 89)),
    st.builds(lambda y: f"Diagnosed in {y}, treated since {y + 1}.", st.integers(1950, 2025)),
    st.builds(
        lambda p, t: f"Pain {p}/10, PHQ-9 {t}, GAD-7 {t // 2}.",
        st.integers(0, 10),
        st.integers(0, 27),
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(clinical_sentence, min_size=1, max_size=6))
def test_clinical_numbers_of_any_shape_are_not_flagged(sentences: list[str]) -> None:
    text = " ".join(sentences)
    assert SCREENER.scan(text) == [], text


identifier = st.one_of(
    st.builds(
        lambda d, m, y: (PhiCategory.DATE, f"{d:02d}/{m:02d}/{y}"),
        st.integers(13, 28),
        st.integers(1, 12),
        st.integers(1940, 2025),
    ),
    st.builds(
        lambda d, m: (PhiCategory.DATE, f"{d} {m} 2024"),
        st.integers(1, 28),
        st.sampled_from(["January", "March", "June", "October", "December"]),
    ),
    st.builds(lambda a: (PhiCategory.AGE_OVER_89, f"{a}-year-old"), st.integers(90, 110)),
    st.builds(lambda n: (PhiCategory.MEDICAL_RECORD_NUMBER, f"MRN {n}"), st.integers(1000, 10**9)),
    st.builds(
        lambda user, host: (PhiCategory.EMAIL, f"{user}@{host}.ca"),
        st.from_regex(r"[a-z]{2,8}\.[a-z]{2,8}", fullmatch=True),
        st.from_regex(r"[a-z]{3,10}", fullmatch=True),
    ),
    st.builds(
        lambda a, b: (PhiCategory.PHONE, f"416-{a}-{b:04d}"),
        st.integers(200, 999),
        st.integers(0, 9999),
    ),
    st.builds(
        lambda n: (PhiCategory.PHONE, f"139{n:08d}"),
        st.integers(0, 10**8 - 1),
    ),
    st.builds(
        lambda o: (PhiCategory.IP_ADDRESS, f"10.{o}.{o // 2}.{(o * 7) % 256}"),
        st.integers(0, 255),
    ),
    st.builds(
        lambda a, d, b, e, c, f: (PhiCategory.POSTCODE, f"{a}{d}{b} {e}{c}{f}"),
        st.sampled_from("KLMNP"),
        st.integers(0, 9),
        st.sampled_from("ABCEGHJ"),
        st.integers(0, 9),
        st.sampled_from("KLMNPRST"),
        st.integers(0, 9),
    ),
    st.builds(
        lambda n: (PhiCategory.PHONE, f"028 90{n // 10000:02d} {n % 10000:04d}"),
        st.integers(0, 999_999),
    ),
    st.builds(
        lambda t, n: (PhiCategory.NAME, f"{t} {n}"),
        st.sampled_from(["Mr.", "Mrs", "Dr", "Ms.", "Mme", "Prof."]),
        st.sampled_from(["Okafor", "Tremblay", "McLaughlin", "Zhang", "Nangolo", "Singh"]),
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(clinical_sentence, min_size=1, max_size=4),
    identifier,
    st.integers(min_value=0, max_value=4),
)
def test_an_identifier_dropped_into_clinical_text_is_found(
    sentences: list[str], planted: tuple[PhiCategory, str], where: int
) -> None:
    category, value = planted
    where = min(where, len(sentences))
    before = " ".join(sentences[:where])
    text = f"{before} Seen with {value} today. " + " ".join(sentences[where:])
    start = text.index(value)
    end = start + len(value)
    found = [s for s in SCREENER.scan(text) if s.start < end and start < s.end]
    assert found, (category, value, text)
