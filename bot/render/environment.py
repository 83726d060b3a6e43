"""The Jinja2 environment every message text comes from, one per language."""

from __future__ import annotations

import datetime
import decimal
import enum
import hashlib
import re
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# bot/render is the one package allowed to use Jinja2; the project-wide ban keeps it here.
import jinja2
import jinja2.meta
import jinja2.sandbox
import yaml
from markupsafe import Markup

from bot.content.summary import SUMMARY_MAX, shorten
from bot.memo import remember
from bot.render.formats import Formats
from bot.render.links import safe_href
from bot.render.markdown import summary, to_telegram_html
from bot.render.split import TELEGRAM_LIMIT, split_message

TEMPLATES = Path(__file__).parent / "templates"
"""The shipped templates: one folder per language, the same file names in each."""

LANGUAGES = ("de", "en")
"""The languages the bot speaks; each has a folder of templates and labels."""

HTML_SUFFIX = ".html.j2"
TEXT_SUFFIX = ".txt.j2"
LABELS_FILE = "labels.yaml"
_NAME = re.compile(r"[a-z][a-z0-9_]*")
# Values whose equality means they render alike (with their type in the key).
_SCALARS = (str, int, float, decimal.Decimal, datetime.date, datetime.timedelta, enum.Enum)
RENDERED_KEPT = 1024  # rendered messages (and labels) remembered per language, then forgotten


class RenderError(Exception):
    """A template that cannot be rendered: unknown name, missing value, unsafe value."""


@dataclass(frozen=True, slots=True)
class Rendered:
    """A message text and the template version it came from, as a consent record keeps it."""

    text: str
    template: str
    version: str
    html: bool = True

    def parts(self, limit: int = TELEGRAM_LIMIT) -> list[str]:
        """Return the text cut into parts that each fit one Telegram message."""
        return split_message(self.text, limit) if self.html else [self.text]


@dataclass(frozen=True, slots=True)
class Command:
    """A bot command and its one-line description for Telegram's command menu."""

    name: str
    description: str


@dataclass(frozen=True, slots=True)
class _Loaded:
    template: jinja2.Template
    version: str
    html: bool


class Renderer:
    """Render message templates and button labels in one language."""

    def __init__(
        self,
        language: str,
        *,
        currency: str = "EUR",
        timezone: str = "Europe/Berlin",
        templates: Path = TEMPLATES,
    ) -> None:
        folder = templates / language
        if language not in LANGUAGES or not folder.is_dir():
            raise ValueError(f"no templates for language {language!r} in {templates}")
        self._language = language
        self._folder = folder
        self._formats = Formats.create(language, currency, timezone)
        self._env = _environment(folder, self._formats)
        self._loaded: dict[str, _Loaded] = {}
        self._buttons, self._commands = _labels(folder / LABELS_FILE, self._env)
        # A template renders the same text for the same values (no clock, no randomness in
        # the environment), and most replies repeat: the same answers, the same prompts,
        # the same buttons (most labels have no values).
        self._rendered: dict[Hashable, Rendered] = {}
        self._labels: dict[Hashable, str] = {}

    @property
    def language(self) -> str:
        """Return the language this renderer writes in."""
        return self._language

    def names(self) -> tuple[str, ...]:
        """Return the names of every message template, sorted."""
        files = [*self._folder.glob(f"*{HTML_SUFFIX}"), *self._folder.glob(f"*{TEXT_SUFFIX}")]
        return tuple(sorted(_name(path.name) for path in files if not path.name.startswith("_")))

    def render(self, name: str, /, **values: object) -> Rendered:
        """Render a message template with the given values; every value is escaped."""
        key = _key((name, values))
        if key is not None and (rendered := self._rendered.get(key)) is not None:
            return rendered
        rendered = self._render(name, values)
        if key is not None:
            remember(self._rendered, key, rendered, RENDERED_KEPT)
        return rendered

    def _render(self, name: str, values: dict[str, object]) -> Rendered:
        loaded = self._load(name)
        try:
            text = loaded.template.render(values).strip()
        except (jinja2.TemplateError, TypeError, ValueError, ArithmeticError) as error:
            raise RenderError(f"{self._language}/{name}: {error}") from error
        if not text:
            raise RenderError(f"{self._language}/{name}: rendered an empty message")
        return Rendered(text, name, loaded.version, loaded.html)

    def version(self, name: str) -> str:
        """Return the short SHA-256 of a template's source and of the templates it imports."""
        return self._load(name).version

    def variables(self, name: str) -> frozenset[str]:
        """Return the names of the values a template needs."""
        source = self._source(self._filename(name))
        return frozenset(jinja2.meta.find_undeclared_variables(self._env.parse(source)))

    def button(self, key: str, /, **values: object) -> str:
        """Return a button label as plain text (labels are not HTML)."""
        kept = _key((key, values)) if values else key
        if kept is not None and (text := self._labels.get(kept)) is not None:
            return text
        label = self._buttons.get(key)
        if label is None:
            raise RenderError(f"{self._language}: no button label {key!r}")
        try:
            text = label.render(values).strip()
        except (jinja2.TemplateError, TypeError, ValueError) as error:
            raise RenderError(f"{self._language}/button {key}: {error}") from error
        if kept is not None:
            remember(self._labels, kept, text, RENDERED_KEPT)
        return text

    def button_keys(self) -> tuple[str, ...]:
        """Return the keys of every button label, in file order."""
        return tuple(self._buttons)

    def commands(self) -> tuple[Command, ...]:
        """Return the bot commands with their descriptions, in menu order."""
        return self._commands

    def _load(self, name: str) -> _Loaded:
        loaded = self._loaded.get(name)
        if loaded is None:
            filename = self._filename(name)
            source = self._source(filename)
            code = self._env.compile(source, filename, str(self._folder / filename))
            template = self._env.template_class.from_code(
                self._env, code, self._env.make_globals(None), None
            )
            version = _digest(self._sources(filename, source))
            loaded = _Loaded(template, version, filename.endswith(HTML_SUFFIX))
            self._loaded[name] = loaded
        return loaded

    def _filename(self, name: str) -> str:
        for suffix in (HTML_SUFFIX, TEXT_SUFFIX):
            if _NAME.fullmatch(name) and (self._folder / f"{name}{suffix}").is_file():
                return f"{name}{suffix}"
        raise RenderError(f"{self._language}: no template named {name!r}")

    def _source(self, filename: str) -> str:
        return (self._folder / filename).read_text(encoding="utf-8")

    def _sources(self, filename: str, source: str) -> dict[str, str]:
        """Return the template's source and, recursively, those it imports or includes."""
        sources = {filename: source}
        pending = [source]
        while pending:
            parsed = self._env.parse(pending.pop())
            for referenced in jinja2.meta.find_referenced_templates(parsed):
                if referenced is None:
                    raise RenderError(f"{filename}: template names must be literal")
                if referenced not in sources:
                    sources[referenced] = self._source(referenced)
                    pending.append(sources[referenced])
        return sources


def _key(value: object) -> Hashable | None:
    """Return a key equal only for values that render alike, or None if there is none.

    Types are part of the key: `Markup("<b>")` equals `"<b>"` but is not escaped, and
    `True` equals `1` but prints differently.
    """
    if isinstance(value, dict):
        items = [(_key(k), _key(v)) for k, v in value.items()]
        return None if any(k is None or v is None for k, v in items) else (dict, tuple(items))
    if isinstance(value, list | tuple):
        elements = [_key(element) for element in value]
        return None if any(e is None for e in elements) else (type(value), tuple(elements))
    if isinstance(value, datetime.datetime):  # equal instants in other zones print apart
        return (datetime.datetime, value, repr(value.tzinfo))
    if isinstance(value, _SCALARS):
        return (type(value), value)
    return None


def renderers(currency: str = "EUR", timezone: str = "Europe/Berlin") -> dict[str, Renderer]:
    """Return a renderer for every language, keyed by language code."""
    return {lang: Renderer(lang, currency=currency, timezone=timezone) for lang in LANGUAGES}


def _environment(folder: Path, formats: Formats) -> jinja2.sandbox.ImmutableSandboxedEnvironment:
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html.j2",),
            disabled_extensions=("txt.j2",),
            default_for_string=False,
            default=True,
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=False,
    )
    filters: Mapping[str, Callable[..., Any]] = {
        "money": formats.money,
        "datetime": formats.datetime,
        "date": formats.date,
        "minutes": formats.minutes,
        "shorten": _shorten,
        "href": _href,
        "markdown": _markdown,
        "summary": _summary,
    }
    env.filters.update(filters)
    return env


def _labels(
    path: Path, env: jinja2.sandbox.ImmutableSandboxedEnvironment
) -> tuple[dict[str, jinja2.Template], tuple[Command, ...]]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise RenderError(f"{path}: cannot read labels: {error}") from None
    if not isinstance(raw, dict) or set(raw) != {"buttons", "commands"}:
        raise RenderError(f"{path}: needs exactly the sections 'buttons' and 'commands'")
    buttons, commands = raw["buttons"], raw["commands"]
    for section, values in (("buttons", buttons), ("commands", commands)):
        if not isinstance(values, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in values.items()
        ):
            raise RenderError(f"{path}: '{section}' must map names to text")
    labels = {key: env.from_string(label) for key, label in buttons.items()}
    return labels, tuple(Command(name, text) for name, text in commands.items())


def _name(filename: str) -> str:
    for suffix in (HTML_SUFFIX, TEXT_SUFFIX):
        if filename.endswith(suffix):
            return filename.removesuffix(suffix)
    return filename


def _digest(sources: Mapping[str, str]) -> str:
    digest = hashlib.sha256()
    for filename in sorted(sources):
        digest.update(filename.encode())
        digest.update(b"\0")
        digest.update(sources[filename].encode())
        digest.update(b"\0")
    return digest.hexdigest()[:12]


def _shorten(text: object, limit: int = SUMMARY_MAX) -> str:
    return shorten(" ".join(str(text).split()), limit)


def _href(url: object) -> str:
    href = safe_href(str(url))
    if href is None:
        raise ValueError(f"refusing link {url!r}: only http, https, mailto and tg links")
    return href


def _markdown(text: object) -> Markup:
    return Markup(to_telegram_html(str(text)))


def _summary(text: object, limit: int = SUMMARY_MAX) -> Markup:
    return Markup(summary(str(text), limit))
