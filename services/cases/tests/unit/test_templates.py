"""Case templates: a form is checked against its template before anything else happens."""

from __future__ import annotations

import pytest
from echo_cases.domain.model import InvalidCaseForm
from echo_cases.domain.templates import (
    DEFAULT_TEMPLATE,
    MENTAL_HEALTH_TEMPLATE,
    find_template,
    latest_template,
)

FORM = {
    "presenting_question": "How to taper?",
    "age_band": "60-69",
    "sex": "male",
    "relevant_history": "COPD.",
    "what_was_tried": "Inhalers.",
    "specific_question": "Which inhaler next?",
}


def test_a_complete_form_is_trimmed_and_kept() -> None:
    clean = DEFAULT_TEMPLATE.validate({**FORM, "medications": "  Tiotropium 18 mcg daily.  "})
    assert clean["medications"] == "Tiotropium 18 mcg daily."


def test_every_problem_is_named_by_its_field() -> None:
    form = {**FORM, "age_band": "61", "colour": "blue", "relevant_history": "x" * 4001}
    del form["specific_question"]
    with pytest.raises(InvalidCaseForm) as refused:
        DEFAULT_TEMPLATE.validate(form)
    fields = {e["field"] for e in refused.value.problem_extra()["errors"]}
    assert fields == {
        "fields.age_band",
        "fields.colour",
        "fields.relevant_history",
        "fields.specific_question",
    }


@pytest.mark.parametrize(
    ("changes", "missing"),
    [
        ({"sex": "female"}, "fields.pregnancy_status"),
        ({"sex": "intersex"}, "fields.pregnancy_status"),
    ],
)
def test_conditional_fields_are_required_when_their_condition_holds(
    changes: dict[str, str], missing: str
) -> None:
    with pytest.raises(InvalidCaseForm) as refused:
        DEFAULT_TEMPLATE.validate({**FORM, **changes})
    assert refused.value.field == missing
    DEFAULT_TEMPLATE.validate({**FORM, **changes, "pregnancy_status": "not_pregnant"})


def test_the_mental_health_form_asks_for_details_of_opioid_use() -> None:
    form = {**FORM, "substance_use": "opioids", "safety_risk": "Low."}
    with pytest.raises(InvalidCaseForm) as refused:
        MENTAL_HEALTH_TEMPLATE.validate(form)
    assert refused.value.field == "fields.substance_details"
    MENTAL_HEALTH_TEMPLATE.validate({**form, "substance_use": "none"})


def test_templates_are_found_by_id_and_version() -> None:
    assert find_template("echo-default", 1) is DEFAULT_TEMPLATE
    assert find_template("echo-default", 2) is None
    assert latest_template("echo-mental-health") is MENTAL_HEALTH_TEMPLATE
    assert latest_template("nope") is None
