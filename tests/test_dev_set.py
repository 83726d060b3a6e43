"""Quality gate: matching and triage figures on the shipped dev set stay above their floors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.app import build_classifier, build_engine, load_usable_content
from bot.config import Config
from bot.content.loader import load_content_or_raise
from bot.matching.decision import Kind
from bot.matching.evaluation import Cases, Report, concatenate, evaluate, read_cases
from bot.matching.matcher import REPORTED, RESCORE_DEPTH

ROOT = Path(__file__).parent.parent
CONTENT = ROOT / "faq_content"
CASE_FILES = sorted((ROOT / "tests" / "eval").glob("cases_*.jsonl"))

# Floors a little under the current figures: a change that drops below one is a regression.
FLOORS = {
    "top1": 0.85,
    "hit_at_3": 0.93,
    "out_of_scope_abstained": 0.85,
    "triage_accuracy": 0.82,
}
CEILINGS = {
    "confidently_wrong": 0.025,
}


@pytest.fixture(scope="module")
def cases() -> Cases:
    """Return every dev-set case, file after file."""
    return concatenate(read_cases(path) for path in CASE_FILES)


@pytest.fixture(scope="module")
def report(cases: Cases) -> Report:
    """Evaluate the dev set once with the real engine and classifier on the shipped content."""
    engine = build_engine(Config(), load_usable_content(Config(), CONTENT))
    classifier = build_classifier(engine)
    result = evaluate(
        cases,
        decide_question=engine.decide,
        classify=lambda message: classifier.classify(message).verdict.value,
    )
    print("\ndev set figures:", json.dumps(result.summary, indent=2))
    return result


def test_dev_set_is_present(cases: Cases) -> None:
    """The dev set holds matching cases, out-of-scope cases and triage cases."""
    assert CASE_FILES
    assert any(case.expected is not None for case in cases.matching)
    assert any(case.expected is None for case in cases.matching)
    assert cases.triage


def test_every_expected_id_is_an_entry(cases: Cases) -> None:
    """A case expecting an id the content lacks would count as a miss for the wrong reason."""
    known = set(load_content_or_raise(CONTENT).by_id)
    missing = {case.expected for case in cases.matching if case.expected} - known
    assert not missing


@pytest.mark.parametrize(("figure", "floor"), FLOORS.items())
def test_figure_stays_above_its_floor(report: Report, figure: str, floor: float) -> None:
    """Top-1, hit@3, out-of-scope abstentions and triage accuracy do not regress."""
    value: Any = report.summary[figure]
    assert value >= floor, f"{figure} = {value}, floor {floor}"


@pytest.mark.parametrize(("figure", "ceiling"), CEILINGS.items())
def test_figure_stays_below_its_ceiling(report: Report, figure: str, ceiling: float) -> None:
    """Confident wrong answers, the worst outcome, stay rare."""
    value: Any = report.summary[figure]
    assert value <= ceiling, f"{figure} = {value}, ceiling {ceiling}"


@pytest.mark.xfail(
    reason="known limit: 'gmail' is known to the content (the 'only our own products' entry"
    " mentions it in its body), so it is no unknown word, and the portal password entry leads"
    " the runner-up by more than the margin",
    strict=True,
)
def test_gmail_password_is_not_answered_from_the_shipped_content() -> None:
    """The portal password entry does not confidently answer a question about Gmail."""
    engine = build_engine(Config(), load_usable_content(Config(), CONTENT))
    assert engine.decide("wie ändere ich mein gmail passwort").kind is not Kind.ANSWER


def test_a_short_ranking_is_the_head_of_the_full_one(cases: Cases) -> None:
    """The matcher skips the fuzzy similarity of entries that cannot be reported; what it
    reports is still exactly the head of the ranking with every entry re-scored."""
    matcher = build_engine(Config(), load_usable_content(Config(), CONTENT)).matcher
    fuzzed: list[int] = []
    fuzzy = matcher._fuzzy

    def counting(question: str, docs: list[int]) -> list[float]:
        fuzzed.append(len(docs))
        return fuzzy(question, docs)

    matcher._fuzzy = counting  # type: ignore[method-assign]
    full_count = short_count = 0
    for case in cases.matching:
        fuzzed.clear()
        full = matcher.rank(case.question, limit=RESCORE_DEPTH).candidates
        full_count += sum(fuzzed)
        for limit in (1, 3, REPORTED):
            fuzzed.clear()
            assert matcher.rank(case.question, limit=limit).candidates == full[:limit]
            if limit == REPORTED:
                short_count += sum(fuzzed)
    # On the dev set, about half of the entries in reach need no fuzzy similarity.
    assert short_count < 0.7 * full_count
    assert matcher.rank(cases.matching[0].question, limit=0).candidates == ()
