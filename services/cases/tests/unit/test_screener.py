"""The PHI screener: the labelled corpus meets its targets; clinical numbers pass."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from echo_cases.adapters.phi_screener import RegexPhiScreener
from echo_cases.domain.screening import CaseContainsPhi, PhiCategory, screen_fields

SCREENER = RegexPhiScreener()


def _measure_module() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "measure_screener.py"
    spec = importlib.util.spec_from_file_location("measure_screener", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("holdout", [False, True], ids=["development", "held-out"])
def test_the_corpus_meets_the_recall_and_false_rejection_targets(holdout: bool) -> None:
    measure = _measure_module()
    report = measure.measure(SCREENER, holdout=holdout)
    assert report.failures() == [], (report.misses, report.false_alarms)
    for script in measure.SCRIPTS:  # every script is measured, with identifiers and clean texts
        identifiers, _, clean, _ = report.per_script[script]
        assert identifiers >= 5 and clean >= 5, script


def test_the_corpus_is_large_enough_and_varied() -> None:
    total, outside_latin, clean = _measure_module().corpus_size()
    assert total >= 400 and outside_latin >= 100 and clean >= total / 2


def test_the_committed_measurement_is_what_the_script_writes() -> None:
    measure = _measure_module()
    assert measure.MEASURED.read_text(encoding="utf-8") == measure.measured_markdown(), (
        "run .venv/bin/python services/cases/tests/measure_screener.py --write"
    )


@pytest.mark.parametrize(
    "text",
    [
        "54-year-old with HbA1c 8.2% on metformin 1000 mg BID for 12 weeks.",
        "The 89-year-old has eGFR 38 and BP 130/85; pain 7/10.",
        "Viral load 1500000 copies/mL; platelets 250000; DIN 02443937; ICD-10 E11.65.",
        "Breast cancer T2N1M0; Glasgow Coma Scale 15; Ottawa ankle rules negative.",
        "He may stop in May 2 mg; dosing 1-0-1; RR 18; follow up in 2-3 weeks since 2019.",
        "Hamilton Depression Rating Scale 22; Montreal Cognitive Assessment 21/30.",
        "患者男性, 58岁, 乙肝病史10年.",
        "The clinic is 3 hours by road; Mark was added to the chart at 12:30:45.",
        "Болезнь Паркинсона, синдром Иценко-Кушинга, тиреоидит Хашимото; метформин 1000 мг.",
        "مرض باركنسون وداء كرون؛ فيتامين د، المستوى 18 نانوغرام/مل.",
        "이 환자는 고혈압으로 암로디핀 5 mg을 복용하고 섭씨 38.5도의 발열이 있었다.",
        "आशा कार्यकर्ता मंगलवार को आईं; पार्किंसन रोग, लेवोडोपा 100 mg।",
        "Two to three drinks a day; one or two episodes; score de Glasgow à 13.",
        "Crohn disease, Hashimoto thyroiditis, Cushing syndrome, Addison disease, Down syndrome.",
    ],
)
def test_clinical_numbers_and_eponyms_are_not_identifiers(text: str) -> None:
    assert SCREENER.scan(text) == []


@pytest.mark.parametrize(
    ("text", "category", "value"),
    [
        ("Seen on 12 March 2024 for review.", PhiCategory.DATE, "12 March 2024"),
        ("She is 92-year-old and frail.", PhiCategory.AGE_OVER_89, "92-year-old"),
        ("Call 416-555-0199 today.", PhiCategory.PHONE, "416-555-0199"),
        ("Mobile 13800138000 (China).", PhiCategory.PHONE, "13800138000"),
        ("Ring 028 9066 1234 for the ward.", PhiCategory.PHONE, "028 9066 1234"),
        ("MRN 40012345 in the EMR.", PhiCategory.MEDICAL_RECORD_NUMBER, "40012345"),
        ("Lives near K1A 0B1 now.", PhiCategory.POSTCODE, "K1A 0B1"),
        ("Lives near BT9 7AB now.", PhiCategory.POSTCODE, "BT9 7AB"),
        ("Shanghai 200030 is her district.", PhiCategory.POSTCODE, "200030"),
        ("Mail k.wong@north.ca please.", PhiCategory.EMAIL, "k.wong@north.ca"),
        ("From 10.0.0.12 at night.", PhiCategory.IP_ADDRESS, "10.0.0.12"),
        ("Mr. John Smith was seen.", PhiCategory.NAME, "Mr. John Smith"),
        ("Il habite au 12 rue de la Paix depuis.", PhiCategory.STREET_ADDRESS, "12 rue de la Paix"),
        ("身份证 110101199003074514.", PhiCategory.NATIONAL_ID, "110101199003074514"),
        ("Kevin went to the ER after the fall.", PhiCategory.NAME, "Kevin"),
        ("Patient: Smith, J. was seen.", PhiCategory.NAME, "Patient: Smith"),
        ("She lives at 12 elm st now.", PhiCategory.STREET_ADDRESS, "12 elm st"),
        ("Seen on the third of May.", PhiCategory.DATE, "the third of May"),
        ("Lives in the town of Wawa.", PhiCategory.GEOGRAPHIC, "town of Wawa"),
        ("Write to ann(at)host.com today.", PhiCategory.EMAIL, "ann(at)host.com"),
        ("Mail j.roy [at] clinic [dot] ca now.", PhiCategory.EMAIL, "j.roy [at] clinic [dot] ca"),
        ("Use mary dot ng at gmail dot com.", PhiCategory.EMAIL, "mary dot ng at gmail dot com"),
        (
            "Call five five five, one two three four, ext nine.",
            PhiCategory.PHONE,
            "five five five, one two three four",
        ),
        (
            "Tél. zéro six, douze, trente-quatre, cinquante-six.",
            PhiCategory.PHONE,
            "zéro six, douze, trente-quatre, cinquante-six",
        ),
        ("Ring 416 five five five 0199 now.", PhiCategory.PHONE, "416 five five five 0199"),
        ("Form showed 046 454 286 again.", PhiCategory.NATIONAL_ID, "046 454 286"),
        ("Letter for 9434765919 came.", PhiCategory.HEALTH_PLAN_NUMBER, "9434765919"),
        ("Card 2345 6789 0124 copied.", PhiCategory.NATIONAL_ID, "2345 6789 0124"),
        ("He gave 512-48-3307 at intake.", PhiCategory.NATIONAL_ID, "512-48-3307"),
        ("Пришла Ольга Петровна Сидорова.", PhiCategory.NAME, "Ольга Петровна Сидорова"),
        ("السيدة مريم الخطيب تتناول الدواء.", PhiCategory.NAME, "مريم الخطيب"),
        ("김민수 씨는 당뇨가 있습니다.", PhiCategory.NAME, "김민수"),
        ("श्रीमती सुनीता शर्मा को मधुमेह है।", PhiCategory.NAME, "सुनीता शर्मा"),
        ("主治医生李明华建议加量。", PhiCategory.NAME, "李明华"),
        ("Seen with Tatiana Morozova today.", PhiCategory.NAME, "Tatiana Morozova"),
        (
            "Server 2001:db8:85a3::8a2e:370:7334 logged it.",
            PhiCategory.IP_ADDRESS,
            "2001:db8:85a3::8a2e:370:7334",
        ),
    ],
)
def test_identifiers_are_found_with_their_category_and_span(
    text: str, category: PhiCategory, value: str
) -> None:
    found = [(s.category, text[s.start : s.end]) for s in SCREENER.scan(text)]
    assert (category, value) in found


def test_a_refusal_names_fields_categories_and_spans_but_not_the_text() -> None:
    fields = {"relevant_history": "Clean history.", "medications": "Call 416-555-0199 first."}
    with pytest.raises(CaseContainsPhi) as refused:
        screen_fields(SCREENER, fields)
    extra = refused.value.problem_extra()
    assert extra["findings"] == [
        {"field": "fields.medications", "category": "phone", "start": 5, "end": 17}
    ]
    assert extra["categories"] == ["phone"]
    assert "416" not in str(refused.value) and "416" not in repr(extra)
