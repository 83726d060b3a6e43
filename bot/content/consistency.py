"""Rules that span entries: unique ids, unique questions, translations that match up."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from bot.content.entry_file import Draft
from bot.content.problem import Problem, Severity
from bot.content.yaml_reader import Text, suggestion


def check_consistency(drafts: Sequence[Draft]) -> list[Problem]:
    """Return the problems between entries: duplicate ids and questions, bad translations."""
    return [
        *_duplicate_ids(drafts),
        *_duplicate_questions(drafts),
        *_translations(drafts),
    ]


def question_key(question: str) -> str:
    """Return the form in which two questions count as the same: casefolded, spaces collapsed."""
    return " ".join(question.casefold().split())


def _duplicate_ids(drafts: Sequence[Draft]) -> list[Problem]:
    """Report every file whose id another file uses too."""
    by_id: dict[str, list[Draft]] = defaultdict(list)
    for draft in drafts:
        if draft.id is not None:
            by_id[draft.id].append(draft)
    problems = []
    for entry_id, group in by_id.items():
        if len(group) < 2:
            continue
        for draft in group:
            others = ", ".join(f"{o.path}:{o.id_line}" for o in group if o is not draft)
            problems.append(
                Problem(
                    draft.path,
                    draft.id_line,
                    f"duplicate id '{entry_id}', also used by {others};"
                    " give each entry its own 'id' (e.g. add a language suffix)",
                )
            )
    return problems


def _duplicate_questions(drafts: Sequence[Draft]) -> list[Problem]:
    """Report every occurrence of a question that appears more than once."""
    places: dict[str, list[tuple[Draft, Text]]] = defaultdict(list)
    for draft in drafts:
        for question in draft.questions:
            places[question_key(question.value)].append((draft, question))
    problems = []
    for group in places.values():
        if len(group) < 2:
            continue
        for draft, question in group:
            others = ", ".join(
                f"{other.path}:{other_question.line}"
                for other, other_question in group
                if other_question is not question
            )
            problems.append(
                Problem(
                    draft.path,
                    question.line,
                    f"duplicate question '{question.value}' in 'questions', also at {others};"
                    " keep it once, in the one entry that answers it",
                )
            )
    return problems


def _translations(drafts: Sequence[Draft]) -> list[Problem]:
    """Report translations to missing ids or the same language, and ones not pointing back."""
    counts: dict[str, int] = defaultdict(int)
    for draft in drafts:
        if draft.id is not None:
            counts[draft.id] += 1
    unique = {d.id: d for d in drafts if d.id is not None and counts[d.id] == 1}
    problems = []
    for draft in drafts:
        translation = draft.translation
        if translation is None:
            continue
        target_id = translation.value
        if counts[target_id] > 1:
            continue  # the duplicate id is reported already; which one is meant is unclear
        target = unique.get(target_id)
        if target is None:
            problems.append(
                Problem(
                    draft.path,
                    translation.line,
                    f"'translation' names the id '{target_id}', which no entry has"
                    f"{suggestion(target_id, sorted(unique)) or '; fix the id or remove the line'}",
                )
            )
        elif target is draft:
            problems.append(
                Problem(
                    draft.path,
                    translation.line,
                    "'translation' names this entry itself; name the entry in the other language",
                )
            )
        elif draft.lang is not None and target.lang is draft.lang:
            problems.append(
                Problem(
                    draft.path,
                    translation.line,
                    f"'translation' names '{target_id}' ({target.path}), which is in the same"
                    f" language ({draft.lang.value}); name the entry in {draft.lang.other.value}",
                )
            )
        elif draft.id is not None and (
            target.translation is None or target.translation.value != draft.id
        ):
            back = (
                f"names '{target.translation.value}'"
                if target.translation is not None
                else "has no 'translation'"
            )
            problems.append(
                Problem(
                    draft.path,
                    translation.line,
                    f"'translation' names '{target_id}', but {target.path} {back};"
                    f" add 'translation: {draft.id}' there",
                    Severity.WARNING,
                )
            )
    return problems
