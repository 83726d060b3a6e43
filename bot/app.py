"""Composition root: builds the engine and its parts from config and content."""

from __future__ import annotations

from pathlib import Path

from bot.config import Config
from bot.content.loader import load_content_or_raise
from bot.matching.engine import MatchingEngine
from bot.triage.classifier import Classifier


def build_engine(config: Config, content_path: Path | None = None) -> MatchingEngine:
    """Load the content (raising ContentError on errors) and build the matching engine."""
    content = load_content_or_raise(content_path or config.content_path)
    return MatchingEngine(content, config.thresholds)


def build_classifier(engine: MatchingEngine) -> Classifier:
    """Build the triage classifier on top of the engine's matcher."""
    return Classifier(engine.matcher)
