"""The lexicon shipped with the bot: read once, checked like an editors' glossary."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from bot.content.glossary import load_glossary

LEXICON_FILE = Path(__file__).with_name("lexicon.yaml")


@lru_cache(maxsize=1)
def builtin_groups() -> tuple[tuple[str, ...], ...]:
    """Return the synonym groups shipped with the package."""
    glossary, problems = load_glossary(LEXICON_FILE)
    errors = [str(problem) for problem in problems if problem.is_error]
    if errors:
        raise ValueError("the built-in lexicon is broken: " + "; ".join(errors))
    return glossary.groups
