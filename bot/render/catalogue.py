"""Every message in every language: the renderers the conversation core talks to."""

from __future__ import annotations

from bot.content.model import Lang
from bot.render.environment import Rendered, Renderer, renderers


class Catalogue:
    """Render templates and button labels in the language asked for."""

    def __init__(self, currency: str = "EUR", timezone: str = "Europe/Berlin") -> None:
        found = renderers(currency, timezone)
        self._renderers = {lang: found[lang.value] for lang in Lang}

    def renderer(self, lang: Lang) -> Renderer:
        """Return the renderer for one language."""
        return self._renderers[Lang(lang)]

    def render(self, lang: Lang, name: str, /, **values: object) -> Rendered:
        """Render a message template in a language."""
        return self.renderer(lang).render(name, **values)

    def button(self, lang: Lang, key: str, /, **values: object) -> str:
        """Return a button label in a language."""
        return self.renderer(lang).button(key, **values)
