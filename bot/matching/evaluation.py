"""Evaluation of matching and triage against labelled cases (`triagebot eval`)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.matching.decision import Decision, Kind

CANDIDATES_REPORTED = 5
TIERS = ("standard", "extended", "unclear")


class CasesError(ValueError):
    """A cases file line that is not a valid case."""


@dataclass(frozen=True, slots=True)
class MatchCase:
    """A question and the entry id that answers it (None: the bot should abstain)."""

    question: str
    expected: str | None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TriageCase:
    """A customer message and the support tier it belongs to."""

    message: str
    tier: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Cases:
    """The cases of one cases file."""

    matching: tuple[MatchCase, ...]
    triage: tuple[TriageCase, ...]


def read_cases(path: Path) -> Cases:
    """Read JSON lines of matching and triage cases; raise CasesError naming file and line."""
    matching: list[MatchCase] = []
    triage: list[TriageCase] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise CasesError(f"{path}: cannot read the cases file: {error}") from error
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise CasesError(f"{path}:{number}: not valid JSON: {error.msg}") from error
        where = f"{path}:{number}"
        if not isinstance(record, dict):
            raise CasesError(f"{where}: expected a JSON object")
        tags = _tags(record, where)
        if "question" in record:
            matching.append(_match_case(record, tags, where))
        elif "message" in record:
            triage.append(_triage_case(record, tags, where))
        else:
            raise CasesError(f"{where}: a case needs 'question' (matching) or 'message' (triage)")
    return Cases(tuple(matching), tuple(triage))


def _tags(record: dict[str, Any], where: str) -> tuple[str, ...]:
    tags = record.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise CasesError(f"{where}: 'tags' must be a list of strings")
    return tuple(tags)


def _match_case(record: dict[str, Any], tags: tuple[str, ...], where: str) -> MatchCase:
    if "expected" not in record:
        raise CasesError(f"{where}: a matching case needs 'expected' (an entry id, or null)")
    question, expected = record["question"], record["expected"]
    if not isinstance(question, str) or not question.strip():
        raise CasesError(f"{where}: 'question' must be a non-empty string")
    if expected is not None and not isinstance(expected, str):
        raise CasesError(f"{where}: 'expected' must be an entry id or null")
    return MatchCase(question, expected, tags)


def _triage_case(record: dict[str, Any], tags: tuple[str, ...], where: str) -> TriageCase:
    message, tier = record["message"], record.get("tier")
    if not isinstance(message, str) or not message.strip():
        raise CasesError(f"{where}: 'message' must be a non-empty string")
    if tier not in TIERS:
        raise CasesError(f"{where}: 'tier' must be one of {', '.join(TIERS)}")
    return TriageCase(message, str(tier), tags)


@dataclass(slots=True)
class _Tally:
    cases: int = 0
    answerable: int = 0
    top1: int = 0
    hit3: int = 0
    answered_right: int = 0
    confidently_wrong: int = 0
    out_of_scope: int = 0
    out_of_scope_abstained: int = 0

    def add(self, case: MatchCase, decision: Decision) -> None:
        ids = [c.entry.id for c in decision.ranking.candidates]
        answered = decision.answer.entry.id if decision.answer else None
        self.cases += 1
        if case.expected is None:
            self.out_of_scope += 1
            self.out_of_scope_abstained += decision.kind is Kind.ABSTAIN
        else:
            self.answerable += 1
            self.top1 += ids[:1] == [case.expected]
            self.hit3 += case.expected in ids[:3]
            self.answered_right += answered == case.expected
        self.confidently_wrong += answered is not None and answered != case.expected

    def figures(self) -> dict[str, float | int]:
        def share(part: int, whole: int) -> float:
            return round(part / whole, 4) if whole else 0.0

        return {
            "cases": self.cases,
            "answerable": self.answerable,
            "top1": share(self.top1, self.answerable),
            "hit_at_3": share(self.hit3, self.answerable),
            "answered_right": share(self.answered_right, self.answerable),
            "confidently_wrong": share(self.confidently_wrong, self.cases),
            "out_of_scope": self.out_of_scope,
            "out_of_scope_abstained": share(self.out_of_scope_abstained, self.out_of_scope),
        }


@dataclass(frozen=True, slots=True)
class Report:
    """The outcome of an evaluation run, ready to print or serialise."""

    summary: dict[str, Any]
    by_tag: dict[str, dict[str, float | int]]
    cases: list[dict[str, Any]]
    triage: list[dict[str, Any]]
    failures: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Return the `--json` document of PRODUCT.md §7 (plus per-tag figures)."""
        return {
            "summary": self.summary,
            "by_tag": self.by_tag,
            "cases": self.cases,
            "triage": self.triage,
        }

    def to_text(self) -> str:
        """Return the readable report: the summary figures, then the failures."""
        lines = ["summary"]
        lines.extend(f"  {key:<24} {value}" for key, value in self.summary.items())
        if self.by_tag:
            lines.append("by tag (cases, top1, hit@3, answered right, confidently wrong)")
            lines.extend(
                f"  {tag:<12} {f['cases']:>4}  {f['top1']:.2f}  {f['hit_at_3']:.2f}"
                f"  {f['answered_right']:.2f}  {f['confidently_wrong']:.2f}"
                for tag, f in sorted(self.by_tag.items())
            )
        lines.append(f"failures ({len(self.failures)})")
        lines.extend(f"  {failure}" for failure in self.failures)
        return "\n".join(lines)


def evaluate(
    cases: Cases,
    decide_question: Callable[[str], Decision],
    classify: Callable[[str], str],
) -> Report:
    """Run every case through the matcher and the triage classifier and tally the results."""
    overall = _Tally()
    tags: dict[str, _Tally] = defaultdict(_Tally)
    case_rows: list[dict[str, Any]] = []
    failures: list[str] = []
    for case in cases.matching:
        decision = decide_question(case.question)
        overall.add(case, decision)
        for tag in case.tags:
            tags[tag].add(case, decision)
        row = _case_row(case, decision)
        case_rows.append(row)
        failure = _failure(case, row)
        if failure:
            failures.append(failure)
    triage_rows = [
        {"message": case.message, "expected": case.tier, "tier": classify(case.message)}
        for case in cases.triage
    ]
    failures.extend(
        f"triage: expected {row['expected']}, got {row['tier']}: {row['message']!r}"
        for row in triage_rows
        if row["tier"] != row["expected"]
    )
    summary: dict[str, Any] = dict(overall.figures())
    summary.update(_triage_figures(triage_rows))
    return Report(
        summary=summary,
        by_tag={tag: tally.figures() for tag, tally in tags.items()},
        cases=case_rows,
        triage=triage_rows,
        failures=failures,
    )


def _case_row(case: MatchCase, decision: Decision) -> dict[str, Any]:
    answer = decision.answer
    candidates = decision.ranking.candidates[:CANDIDATES_REPORTED]
    return {
        "question": case.question,
        "expected": case.expected,
        "decision": decision.kind.value,
        "id": answer.entry.id if answer else None,
        "candidates": [{"id": c.entry.id, "score": c.score} for c in candidates],
    }


def _failure(case: MatchCase, row: dict[str, Any]) -> str | None:
    top = [c["id"] for c in row["candidates"][:3]]
    if case.expected is None and row["decision"] == "abstain":
        return None
    if case.expected is not None and row["decision"] == "answer" and row["id"] == case.expected:
        return None
    if case.expected is not None and row["decision"] == "suggest" and case.expected in top:
        return None
    return f"{row['decision']}: expected {case.expected}, got {row['id'] or top}: {case.question!r}"


def _triage_figures(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    if not rows:
        return {"triage_cases": 0, "triage_accuracy": 0.0, "triage_swaps": 0}
    right = sum(row["tier"] == row["expected"] for row in rows)
    swaps = sum({row["tier"], row["expected"]} == {"standard", "extended"} for row in rows)
    return {
        "triage_cases": len(rows),
        "triage_accuracy": round(right / len(rows), 4),
        "triage_swaps": swaps,
    }


def concatenate(parts: Iterable[Cases]) -> Cases:
    """Join the cases of several files."""
    matching: list[MatchCase] = []
    triage: list[TriageCase] = []
    for part in parts:
        matching.extend(part.matching)
        triage.extend(part.triage)
    return Cases(tuple(matching), tuple(triage))
