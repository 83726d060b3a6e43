"""Typed configuration from one TOML file: the only place that reads settings."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.matching.decision import Thresholds


class ConfigError(Exception):
    """A config file that cannot be used; the message is one line naming file and key."""


@dataclass(frozen=True, slots=True)
class Config:
    """The settings the bot runs with; defaults match config.example.toml."""

    content_path: Path = Path("faq_content")
    thresholds: Thresholds = field(default_factory=Thresholds)
    source: Path | None = None


# Every section and key the file may hold, with the Python type each value must have.
# Sections of later features are accepted so one file serves every command.
_SCHEMA: dict[str, dict[str, type | tuple[type, ...]]] = {
    "telegram": {"token": str, "base_url": str, "staff_chat_id": int, "mode": str},
    "content": {"path": str},
    "storage": {"database": str},
    "billing": {"currency": str, "rate": str, "increment_minutes": int},
    "sla": {"timezone": str},
    "matching": {
        "answer_threshold": (float, int),
        "suggest_threshold": (float, int),
        "margin": (float, int),
        "max_suggestions": int,
    },
}


_KINDS: dict[type | tuple[type, ...], str] = {str: "a string", int: "a whole number"}


def load_config(path: Path) -> Config:
    """Read and validate a TOML config file; raise ConfigError with one clear line."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read config file: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    _check_schema(raw, path)
    content = raw.get("content", {})
    matching = raw.get("matching", {})
    thresholds = _thresholds(matching, path)
    content_path = Path(content.get("path", "faq_content"))
    if not content_path.is_absolute():
        content_path = path.parent / content_path
    return Config(content_path=content_path, thresholds=thresholds, source=path)


def _check_schema(raw: dict[str, Any], path: Path) -> None:
    for section, values in raw.items():
        keys = _SCHEMA.get(section)
        if keys is None:
            known = ", ".join(f"[{name}]" for name in _SCHEMA)
            raise ConfigError(f"{path}: unknown section [{section}] (known: {known})")
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: [{section}] must be a table")
        for key, value in values.items():
            expected = keys.get(key)
            if expected is None:
                known = ", ".join(keys)
                raise ConfigError(f"{path}: unknown key [{section}] {key} (known: {known})")
            if isinstance(value, bool) or not isinstance(value, expected):
                kind = _KINDS.get(expected, "number")
                raise ConfigError(f"{path}: [{section}] {key} must be {kind}")


def _thresholds(matching: dict[str, Any], path: Path) -> Thresholds:
    defaults = Thresholds()
    values = {
        "answer_threshold": float(matching.get("answer_threshold", defaults.answer)),
        "suggest_threshold": float(matching.get("suggest_threshold", defaults.suggest)),
        "margin": float(matching.get("margin", defaults.margin)),
    }
    for key, value in values.items():
        if not 0.0 <= value <= 1.0:
            raise ConfigError(f"{path}: [matching] {key} must be between 0 and 1, not {value}")
    if values["suggest_threshold"] > values["answer_threshold"]:
        raise ConfigError(f"{path}: [matching] suggest_threshold must not exceed answer_threshold")
    max_suggestions = int(matching.get("max_suggestions", defaults.max_suggestions))
    if max_suggestions not in (2, 3):
        raise ConfigError(f"{path}: [matching] max_suggestions must be 2 or 3")
    return Thresholds(
        answer=values["answer_threshold"],
        suggest=values["suggest_threshold"],
        margin=values["margin"],
        max_suggestions=max_suggestions,
    )
