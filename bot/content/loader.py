"""Load the FAQ content folder: every entry file and the glossary, with every problem found."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from bot.content.consistency import check_consistency
from bot.content.entry_file import Draft, read_entry_file
from bot.content.glossary import GLOSSARY_FILE, load_glossary
from bot.content.model import Content, Entry, Glossary
from bot.content.problem import Problem, Severity


@dataclass(frozen=True, slots=True)
class LoadResult:
    """The valid part of a content folder and every problem found in it."""

    content: Content
    problems: tuple[Problem, ...]

    @property
    def errors(self) -> tuple[Problem, ...]:
        """Return only the problems that are errors."""
        return tuple(problem for problem in self.problems if problem.is_error)

    @property
    def warnings(self) -> tuple[Problem, ...]:
        """Return only the problems that are warnings."""
        return tuple(problem for problem in self.problems if not problem.is_error)


class ContentError(Exception):
    """The content folder has errors, so it cannot be used as it is."""

    def __init__(self, problems: tuple[Problem, ...]) -> None:
        self.problems = problems
        errors = [problem for problem in problems if problem.is_error]
        lines = "\n".join(f"  {problem}" for problem in errors)
        super().__init__(f"the FAQ content has {len(errors)} error(s):\n{lines}")


def load_content(root: Path) -> LoadResult:
    """Load every entry below `root` and its glossary; report problems instead of raising."""
    if not root.is_dir():
        state = "is not a folder" if root.exists() else "does not exist"
        problem = Problem(str(root), 0, f"the content folder {state}; check the content path")
        return LoadResult(Content(()), (problem,))
    problems: list[Problem] = []
    drafts: list[Draft] = []
    for path in entry_paths(root):
        draft, file_problems = _read(path)
        problems.extend(file_problems)
        if draft is not None:
            drafts.append(draft)
    problems.extend(check_consistency(drafts))
    if not drafts and not problems:
        problems.append(
            Problem(
                str(root),
                0,
                "no FAQ entries found; add markdown files (*.md) with front matter,"
                " or check the content path",
            )
        )
    glossary = Glossary()
    glossary_path = root / GLOSSARY_FILE
    if glossary_path.exists():
        glossary, glossary_problems = load_glossary(glossary_path)
        problems.extend(glossary_problems)
    failed = {problem.path for problem in problems if problem.is_error}
    entries = [d.entry for d in drafts if d.entry is not None and d.path not in failed]
    content = Content(_without_dangling_translations(entries), glossary)
    problems.sort(key=lambda problem: (problem.path, problem.line))
    return LoadResult(content, tuple(problems))


def load_content_or_raise(root: Path) -> Content:
    """Load the content below `root`; raise ContentError if it has any error."""
    result = load_content(root)
    if result.errors:
        raise ContentError(result.problems)
    return result.content


def entry_paths(root: Path) -> list[Path]:
    """Return every entry file below `root`, sorted, skipping `_` and `.` names."""
    paths: list[Path] = []
    for directory, folders, files in os.walk(root):
        folders[:] = [name for name in folders if not _is_skipped(name)]
        paths.extend(
            Path(directory) / name
            for name in files
            if name.endswith(".md") and not _is_skipped(name)
        )
    return sorted(paths)


def _is_skipped(name: str) -> bool:
    """Tell whether a file or folder name is excluded from the content."""
    return name.startswith(("_", "."))


def _read(path: Path) -> tuple[Draft | None, tuple[Problem, ...]]:
    """Read one entry file, turning even an unexpected failure into a problem."""
    try:
        return read_entry_file(path)
    except Exception as error:
        # One odd file must never stop the rest from loading: a bug here becomes a problem.
        return None, (
            Problem(
                str(path),
                0,
                f"internal error while reading this file ({type(error).__name__}: {error});"
                " please report it with the file attached",
                Severity.ERROR,
            ),
        )


def _without_dangling_translations(entries: list[Entry]) -> tuple[Entry, ...]:
    """Drop translations to entries that did not load, so every translation resolves."""
    ids = {entry.id for entry in entries}
    return tuple(
        entry
        if entry.translation is None or entry.translation in ids
        else replace(entry, translation=None)
        for entry in entries
    )
