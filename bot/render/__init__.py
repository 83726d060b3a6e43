"""Every text the bot sends: Jinja2 templates per language, Telegram HTML, safe splitting."""

from bot.render.catalogue import Catalogue
from bot.render.environment import (
    LANGUAGES,
    Command,
    Rendered,
    Renderer,
    RenderError,
    renderers,
)
from bot.render.markdown import summary, to_telegram_html
from bot.render.split import TELEGRAM_LIMIT, split_message, visible_length, visible_text
from bot.render.subset import ALLOWED_TAGS, html_problems

__all__ = [
    "ALLOWED_TAGS",
    "LANGUAGES",
    "TELEGRAM_LIMIT",
    "Catalogue",
    "Command",
    "RenderError",
    "Rendered",
    "Renderer",
    "html_problems",
    "renderers",
    "split_message",
    "summary",
    "to_telegram_html",
    "visible_length",
    "visible_text",
]
