# ruff: noqa: RUF001
"""The screener's cheap pre-tests (`_NEEDS`) only skip scans that could find nothing: findings
with them are exactly the findings without them, on the corpus and on generated texts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from echo_cases.adapters import phi_screener
from echo_cases.adapters.phi_screener import RegexPhiScreener
from echo_cases.domain.screening import Span
from hypothesis import given, settings
from hypothesis import strategies as st

SCREENER = RegexPhiScreener()
CORPUS = Path(__file__).resolve().parents[1] / "corpus"

#: Pieces that the gated patterns match or nearly match, to be glued together at random.
PIECES = [
    "2024年3月12日",
    "3月12日",
    "2024年3月",
    "3 月 5 号",
    "上海市浦东新区",
    "徐汇区",
    "王先生",
    "患者李明，",
    "the third of May",
    "the 21st OF June, 2023",
    "Twenty-First of march",
    "1er of janvier",
    "seen the fifth of",
    "Of",
    " of ",
    "月",
    "年",
    "医院",
    "Dr. Smith",
    "12 March 2024",
    "HbA1c 9.1%",
    "54-year-old",
    "\n",
    " ",
]


def _texts() -> Iterator[str]:
    for name in ("phi.txt", "clean.txt", "phi_holdout.txt", "clean_holdout.txt"):
        for line in (CORPUS / name).read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                yield line.replace("{{", "").replace("}}", "")


def _ungated(text: str, monkeypatch: pytest.MonkeyPatch) -> list[Span]:
    with monkeypatch.context() as patch:
        patch.setattr(phi_screener, "_NEEDS", {})
        return SCREENER.scan(text)


def test_the_gates_cover_the_patterns_they_name() -> None:
    # Guards against the tuple of date patterns being reordered under the gates.
    assert "月" in phi_screener._DATES[5].pattern
    assert r"\s+of\s+" in phi_screener._DATES[8].pattern


def test_the_corpus_findings_are_the_same_with_and_without_gates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    texts = list(_texts())
    assert len(texts) > 200
    for text in texts:
        assert SCREENER.scan(text) == _ungated(text, monkeypatch), text[:40]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=8), st.text(max_size=12))
def test_generated_texts_find_the_same_with_and_without_gates(
    pieces: list[str], noise: str
) -> None:
    text = "".join(pieces) + noise
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(phi_screener, "_NEEDS", {})
        expected = SCREENER.scan(text)
    assert SCREENER.scan(text) == expected
