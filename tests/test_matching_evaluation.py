"""Evaluation: reading cases files, the figures of `triagebot eval`, and its JSON shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.content.model import Entry, Lang
from bot.matching.decision import Decision, Kind
from bot.matching.evaluation import (
    Cases,
    CasesError,
    MatchCase,
    TriageCase,
    concatenate,
    evaluate,
    read_cases,
)
from bot.matching.matcher import Candidate, Features, Ranking


def write_cases(tmp_path: Path, *lines: str) -> Path:
    """Write a cases file with the given lines and return its path."""
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_read_cases_parses_both_kinds(tmp_path: Path) -> None:
    """Matching cases (with an id or null) and triage cases are read in file order."""
    path = write_cases(
        tmp_path,
        '{"question": "Passwort ändern", "expected": "kc-passwort", "tags": ["umlaut"]}',
        "",
        '{"question": "Wetter morgen?", "expected": null}',
        '{"message": "Euer Server ist down", "tier": "standard"}',
        '{"message": "Ich habe mich ausgesperrt", "tier": "extended", "tags": ["de"]}',
        '{"message": "Webseite geht nicht", "tier": "unclear"}',
    )
    cases = read_cases(path)
    assert cases.matching == (
        MatchCase("Passwort ändern", "kc-passwort", ("umlaut",)),
        MatchCase("Wetter morgen?", None),
    )
    assert cases.triage == (
        TriageCase("Euer Server ist down", "standard"),
        TriageCase("Ich habe mich ausgesperrt", "extended", ("de",)),
        TriageCase("Webseite geht nicht", "unclear"),
    )


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ('{"question": "Passwort ändern", "expected": "kc-passwort"', "not valid JSON"),
        ('["question", "expected"]', "JSON object"),
        ('{"expected": "kc-passwort"}', "'question'"),
        ('{"question": "", "expected": "kc-passwort"}', "'question'"),
        ('{"question": "Passwort", "expected": 3}', "'expected'"),
        ('{"message": "Server down"}', "'tier'"),
        ('{"message": "Server down", "tier": "premium"}', "'tier'"),
        ('{"message": "   ", "tier": "standard"}', "'message'"),
        ('{"question": "Passwort", "expected": null, "tags": "typo"}', "'tags'"),
    ],
)
def test_read_cases_names_file_and_line_of_a_bad_case(
    tmp_path: Path, line: str, words: str
) -> None:
    """A broken line stops the run with `file:line:` and what is wrong with it."""
    path = write_cases(tmp_path, '{"question": "Passwort ändern", "expected": null}', "", line)
    with pytest.raises(CasesError) as caught:
        read_cases(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:3: ")
    assert words in message
    assert "\n" not in message


def test_read_cases_requires_expected_on_matching_cases(tmp_path: Path) -> None:
    """A matching case without an 'expected' key (e.g. misspelt) is an error, not an abstain."""
    path = write_cases(tmp_path, '{"question": "Passwort ändern", "expeced": "kc-passwort"}')
    with pytest.raises(CasesError, match=":1: "):
        read_cases(path)


def test_read_cases_names_a_missing_file(tmp_path: Path) -> None:
    """A cases file that does not exist is reported with its path."""
    path = tmp_path / "missing.jsonl"
    with pytest.raises(CasesError, match=r"missing\.jsonl"):
        read_cases(path)


def test_concatenate_keeps_the_order_of_files_and_cases() -> None:
    """Several cases files join into one set, file after file."""
    first = Cases((MatchCase("a", "x"),), (TriageCase("m", "standard"),))
    second = Cases((MatchCase("b", None),), ())
    joined = concatenate([first, second])
    assert [case.question for case in joined.matching] == ["a", "b"]
    assert [case.message for case in joined.triage] == ["m"]


# A fake matcher: each question maps to a decision built by hand, so the figures can be
# checked exactly without depending on how the real engine is tuned.

FEATURES = Features(lexical=0, relative=0, coverage=0, focus=0, overlap=0, fuzzy=0, unknown=0)


def candidate(id_: str, score: float) -> Candidate:
    """Return a candidate for an entry with the given id and score."""
    entry = Entry(id=id_, title=id_, lang=Lang.DE, url="https://x.example", body="")
    return Candidate(entry=entry, score=score, matched=(), features=FEATURES)


def decision(kind: Kind, ranked: str, offered: int = 0) -> Decision:
    """Return a decision over candidates named by the letters of `ranked`, best first."""
    candidates = tuple(candidate(id_, round(0.9 - 0.2 * i, 4)) for i, id_ in enumerate(ranked))
    shown = {Kind.ANSWER: 1, Kind.SUGGEST: offered or 2, Kind.ABSTAIN: 0}[kind]
    ranking = Ranking(question="q", lang=Lang.DE, candidates=candidates, notes=(), unknown=())
    return Decision(kind, ranking, candidates[:shown])


DECISIONS = {
    # answerable: right answer at the top
    "q1": decision(Kind.ANSWER, "abc"),
    # answerable: expected second, suggested
    "q2": decision(Kind.SUGGEST, "abc"),
    # answerable: expected third, but the first is answered: confidently wrong
    "q3": decision(Kind.ANSWER, "abcd"),
    # answerable: expected fourth, abstained
    "q4": decision(Kind.ABSTAIN, "abcd"),
    # out of scope: abstained
    "q5": decision(Kind.ABSTAIN, ""),
    # out of scope: answered anyway: confidently wrong
    "q6": decision(Kind.ANSWER, "ab"),
    # out of scope: suggested
    "q7": decision(Kind.SUGGEST, "ab"),
}
CASES = Cases(
    matching=(
        MatchCase("q1", "a", ("typo",)),
        MatchCase("q2", "b"),
        MatchCase("q3", "c", ("typo",)),
        MatchCase("q4", "d"),
        MatchCase("q5", None),
        MatchCase("q6", None),
        MatchCase("q7", None),
    ),
    triage=(
        TriageCase("m-standard", "standard"),
        TriageCase("m-extended", "extended"),
        TriageCase("m-unclear", "unclear"),
        TriageCase("m-standard-2", "standard"),
    ),
)
VERDICTS = {
    "m-standard": "standard",
    "m-extended": "standard",  # a swap between the billed and the free tier
    "m-unclear": "extended",  # wrong, but not a swap
    "m-standard-2": "standard",
}


def run() -> dict[str, object]:
    """Evaluate CASES with the fake matcher and classifier; return the JSON document."""
    return evaluate(CASES, DECISIONS.__getitem__, VERDICTS.__getitem__).to_json()


def test_evaluate_computes_the_matching_figures() -> None:
    """top-1 and hit@3 count answerable cases; confidently wrong counts all cases."""
    summary = run()["summary"]
    assert isinstance(summary, dict)
    assert summary["cases"] == 7
    assert summary["answerable"] == 4
    assert summary["top1"] == 0.25
    assert summary["hit_at_3"] == 0.75
    assert summary["answered_right"] == 0.25
    assert summary["confidently_wrong"] == round(2 / 7, 4)
    assert summary["out_of_scope"] == 3
    assert summary["out_of_scope_abstained"] == round(1 / 3, 4)


def test_evaluate_computes_the_triage_figures() -> None:
    """Triage accuracy is the share of right tiers; swaps count standard/extended mix-ups."""
    summary = run()["summary"]
    assert isinstance(summary, dict)
    assert summary["triage_cases"] == 4
    assert summary["triage_accuracy"] == 0.5
    assert summary["triage_swaps"] == 1


def test_evaluate_computes_figures_per_tag() -> None:
    """Cases tagged alike are also tallied on their own."""
    report = evaluate(CASES, DECISIONS.__getitem__, VERDICTS.__getitem__)
    typo = report.by_tag["typo"]
    assert (typo["cases"], typo["top1"], typo["hit_at_3"]) == (2, 0.5, 1.0)
    assert typo["confidently_wrong"] == 0.5


def test_evaluate_without_cases_gives_zero_figures() -> None:
    """An empty cases file gives zeros rather than a division error."""
    summary = evaluate(Cases((), ()), DECISIONS.__getitem__, VERDICTS.__getitem__).summary
    assert summary["cases"] == 0
    assert summary["top1"] == 0.0
    assert summary["triage_accuracy"] == 0.0


def test_json_matches_the_documented_shape() -> None:
    """`eval --json` prints summary, cases and triage rows with the keys of PRODUCT.md §7."""
    document = json.loads(json.dumps(run()))
    assert {"summary", "cases", "triage"} <= set(document)
    for row in document["cases"]:
        assert set(row) == {"question", "expected", "decision", "id", "candidates"}
        assert row["decision"] in {"answer", "suggest", "abstain"}
        for item in row["candidates"]:
            assert set(item) == {"id", "score"}
    for row in document["triage"]:
        assert set(row) == {"message", "expected", "tier"}


def test_json_case_rows_carry_the_decision_and_ranked_candidates() -> None:
    """Each case row says what was decided, which id was answered, and the ranking behind it."""
    rows = {row["question"]: row for row in run()["cases"]}  # type: ignore[attr-defined]
    assert rows["q1"]["decision"] == "answer"
    assert rows["q1"]["id"] == "a"
    assert rows["q1"]["expected"] == "a"
    assert rows["q2"]["decision"] == "suggest"
    assert rows["q2"]["id"] is None
    assert rows["q3"]["id"] == "a"
    assert [item["id"] for item in rows["q3"]["candidates"]] == ["a", "b", "c", "d"]
    assert rows["q3"]["candidates"][0]["score"] == 0.9
    assert rows["q5"]["expected"] is None
    assert rows["q5"]["candidates"] == []


def test_json_triage_rows_pair_expected_and_given_tier() -> None:
    """Each triage row holds the message, the expected tier and the classifier's tier."""
    triage = run()["triage"]
    assert triage == [
        {"message": "m-standard", "expected": "standard", "tier": "standard"},
        {"message": "m-extended", "expected": "extended", "tier": "standard"},
        {"message": "m-unclear", "expected": "unclear", "tier": "extended"},
        {"message": "m-standard-2", "expected": "standard", "tier": "standard"},
    ]


def test_text_report_lists_figures_then_failures() -> None:
    """The readable report shows the summary figures and each failed case."""
    text = evaluate(CASES, DECISIONS.__getitem__, VERDICTS.__getitem__).to_text()
    for figure in ("top1", "hit_at_3", "confidently_wrong", "triage_accuracy", "triage_swaps"):
        assert figure in text
    assert text.index("top1") < text.index("failures")
    for failed in ("'q3'", "'q4'", "'q6'", "'q7'", "'m-extended'", "'m-unclear'"):
        assert failed in text
    for passed in ("'q1'", "'q2'", "'q5'", "'m-standard'"):
        assert passed not in text
