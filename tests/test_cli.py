"""The command line: `ask`, `lint`, `triage` and `eval` as PRODUCT.md §7 names them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.__main__ import main

REAL_CONTENT = Path(__file__).parent.parent / "faq_content"

BROKEN_ENTRY = """\
---
title: Passwort ändern
lang: xx
url: https://wiki.example.com/Passwort
questions:
  - Wie ändere ich mein Passwort?
---
Im Kundencenter ändern.
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the CLI; return its exit status, stdout and stderr."""
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    """Run a CLI command that should succeed and return the JSON it printed."""
    status, out, _ = run(capsys, *argv)
    assert status == 0
    return json.loads(out)


def test_ask_json_prints_decision_and_candidates(capsys: pytest.CaptureFixture[str]) -> None:
    """`ask --json` prints the decision, the answered id and the ranked candidates."""
    document = run_json(
        capsys, "ask", "--content", str(REAL_CONTENT), "--json", "Passwort im Kundencenter ändern"
    )
    assert document["decision"] == "answer"
    assert document["id"] == "kundencenter-passwort-aendern"
    candidates = document["candidates"]
    assert candidates[0]["id"] == "kundencenter-passwort-aendern"
    assert all({"id", "score"} <= set(candidate) for candidate in candidates)
    scores = [candidate["score"] for candidate in candidates]
    assert scores == sorted(scores, reverse=True)


def test_ask_json_abstains_off_topic(capsys: pytest.CaptureFixture[str]) -> None:
    """`ask` says "abstain" and answers nothing for a question the content does not cover."""
    document = run_json(
        capsys, "ask", "--content", str(REAL_CONTENT), "--json", "Wie wird das Wetter morgen?"
    )
    assert document["decision"] == "abstain"
    assert document["id"] is None


def test_ask_lang_chooses_the_translation(capsys: pytest.CaptureFixture[str]) -> None:
    """`ask --lang en` returns the English entry where one exists."""
    document = run_json(
        capsys,
        "ask",
        "--content",
        str(REAL_CONTENT),
        "--lang",
        "en",
        "--json",
        "Passwort im Kundencenter ändern",
    )
    assert document["lang"] == "en"
    assert document["candidates"][0]["id"] == "customer-center-change-password"


def test_ask_text_names_the_decision(capsys: pytest.CaptureFixture[str]) -> None:
    """Without --json, `ask` prints a readable decision with the entry and its link."""
    status, out, _ = run(
        capsys, "ask", "--content", str(REAL_CONTENT), "Passwort im Kundencenter ändern"
    )
    assert status == 0
    assert out.startswith("decision: answer")
    assert "kundencenter-passwort-aendern" in out
    assert "https://" in out


def test_lint_reports_each_problem_as_path_line_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`lint` prints `path:line: message` for a broken file and exits with 1."""
    path = tmp_path / "passwort.md"
    path.write_text(BROKEN_ENTRY, encoding="utf-8")
    status, out, err = run(capsys, "lint", "--content", str(tmp_path))
    assert status == 1
    assert f"{path}:3: " in out
    assert "'lang'" in out
    assert "1 error" in err


def test_lint_passes_the_shipped_content(capsys: pytest.CaptureFixture[str]) -> None:
    """The shipped FAQ content has no errors, so `lint` exits with 0."""
    status, out, err = run(capsys, "lint", "--content", str(REAL_CONTENT))
    assert status == 0, out
    assert "0 error(s)" in err


def test_triage_json_prints_tier_and_reasons(capsys: pytest.CaptureFixture[str]) -> None:
    """`triage --json` prints the message, its tier and the reasons."""
    message = "Ich habe mich mit iptables selbst von meinem Server ausgesperrt"
    document = run_json(capsys, "triage", "--content", str(REAL_CONTENT), "--json", message)
    assert document["message"] == message
    assert document["tier"] == "extended"
    assert document["reasons"]
    assert all(isinstance(reason, str) and reason for reason in document["reasons"])


def write_cases(tmp_path: Path) -> Path:
    """Write a small cases file: one answerable, one out-of-scope, one triage case."""
    path = tmp_path / "cases.jsonl"
    lines = [
        {
            "question": "Passwort im Kundencenter ändern",
            "expected": "kundencenter-passwort-aendern",
        },
        {"question": "Wie wird das Wetter morgen?", "expected": None},
        {"message": "Ich habe mich mit iptables selbst ausgesperrt", "tier": "extended"},
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    return path


def test_eval_json_has_the_documented_shape(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`eval --json` prints summary, case rows and triage rows as PRODUCT.md §7 describes."""
    document = run_json(
        capsys,
        "eval",
        "--content",
        str(REAL_CONTENT),
        "--cases",
        str(write_cases(tmp_path)),
        "--json",
    )
    summary = document["summary"]
    assert summary["cases"] == 2
    assert summary["triage_cases"] == 1
    for figure in ("top1", "hit_at_3", "confidently_wrong", "out_of_scope_abstained"):
        assert 0.0 <= summary[figure] <= 1.0
    answerable, off_topic = document["cases"]
    assert set(answerable) == {"question", "expected", "decision", "id", "candidates"}
    assert answerable["expected"] == "kundencenter-passwort-aendern"
    assert answerable["decision"] in {"answer", "suggest", "abstain"}
    assert len(answerable["candidates"]) >= 3
    assert all(set(candidate) == {"id", "score"} for candidate in answerable["candidates"])
    assert off_topic["expected"] is None
    assert document["triage"] == [
        {
            "message": "Ich habe mich mit iptables selbst ausgesperrt",
            "expected": "extended",
            "tier": "extended",
        }
    ]


def test_eval_text_prints_the_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without --json, `eval` prints the summary figures and the failures."""
    status, out, _ = run(
        capsys, "eval", "--content", str(REAL_CONTENT), "--cases", str(write_cases(tmp_path))
    )
    assert status == 0
    for figure in ("top1", "hit_at_3", "confidently_wrong", "triage_accuracy", "failures"):
        assert figure in out


def test_eval_with_a_bad_cases_file_names_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A broken cases file stops `eval` with exit status 2 and `file:line` on stderr."""
    cases = tmp_path / "cases.jsonl"
    cases.write_text('{"question": "ok", "expected": null}\n{"message": "x", "tier": "gold"}\n')
    status, out, err = run(capsys, "eval", "--content", str(REAL_CONTENT), "--cases", str(cases))
    assert status == 2
    assert out == ""
    assert f"{cases}:2: " in err


def test_bad_config_path_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A config file that does not exist stops the command with 2 and one line on stderr."""
    missing = tmp_path / "missing.toml"
    status, out, err = run(capsys, "ask", "--config", str(missing), "Passwort ändern")
    assert status == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert str(missing) in err


def test_broken_content_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`ask` refuses to answer from content with errors, and names the broken file."""
    (tmp_path / "passwort.md").write_text(BROKEN_ENTRY, encoding="utf-8")
    status, out, err = run(capsys, "ask", "--content", str(tmp_path), "Passwort ändern")
    assert status == 2
    assert out == ""
    assert "passwort.md:3" in err


def test_ask_answers_from_the_valid_entries_when_one_file_is_broken(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A broken entry is left out with a warning naming it; the others still answer."""
    (tmp_path / "passwort.md").write_text(BROKEN_ENTRY, encoding="utf-8")
    (tmp_path / "rechnung.md").write_text(
        "---\ntitle: Rechnung herunterladen\nlang: de\n"
        "url: https://help.example-hoster.de/rechnung\n"
        "questions:\n  - Wo finde ich meine Rechnung?\n---\n"
        "Im Kundencenter unter Rechnungen.\n",
        encoding="utf-8",
    )
    status, out, err = run(capsys, "ask", "--content", str(tmp_path), "--json", "rechnung pdf")
    assert status == 0
    assert json.loads(out)["candidates"][0]["id"] == "rechnung"
    assert "passwort.md:3" in err
    assert "left out" in err
