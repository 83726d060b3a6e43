"""Composition root: builds the engine and its parts from config and content."""

from __future__ import annotations

from pathlib import Path

from bot.config import Config
from bot.content.loader import ContentError, LoadResult, load_content
from bot.matching.engine import MatchingEngine
from bot.triage.classifier import Classifier


def load_usable_content(config: Config, content_path: Path | None = None) -> LoadResult:
    """Load the content, keeping the valid entries; raise ContentError when none is usable."""
    result = load_content(content_path or config.content_path)
    if not result.content.entries:
        raise ContentError(result.problems)
    return result


def build_engine(config: Config, result: LoadResult) -> MatchingEngine:
    """Build the matching engine over the valid entries of loaded content."""
    return MatchingEngine(result.content, config.thresholds)


def build_classifier(engine: MatchingEngine) -> Classifier:
    """Build the triage classifier on top of the engine's matcher."""
    return Classifier(engine.matcher)
