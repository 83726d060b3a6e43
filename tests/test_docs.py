"""Docs stay true to the code: every command, bot command and doc link is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.__main__ import _parser, main
from bot.content.model import Lang
from bot.render import Catalogue

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def cli_commands() -> list[str]:
    """Return the names of the triagebot subcommands."""
    parser = _parser()
    actions = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    return sorted(actions[0].choices)  # type: ignore[attr-defined]


@pytest.mark.parametrize("command", cli_commands())
def test_every_cli_command_is_in_the_readme(command: str) -> None:
    """The README shows each subcommand's usage."""
    assert f"triagebot {command}" in README


@pytest.mark.parametrize("command", cli_commands())
def test_every_cli_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`triagebot COMMAND --help` prints a usage line and exits 0."""
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    assert f"usage: triagebot {command}" in capsys.readouterr().out


def test_every_bot_command_is_in_the_readme_and_help() -> None:
    """Each command of the Telegram menu is in the README and in /help in both languages."""
    texts = Catalogue()
    for lang in Lang:
        help_text = texts.render(lang, "help").text
        for command in texts.renderer(lang).commands():
            assert f"/{command.name}" in help_text, (lang, command.name)
            assert f"/{command.name}" in README, command.name


def test_doc_links_in_the_readme_exist() -> None:
    """Every docs/ file the README links to is there, and every docs/ file is linked."""
    linked = set(re.findall(r"\(docs/([a-z_]+\.md)\)", README))
    present = {path.name for path in (ROOT / "docs").glob("*.md")}
    assert linked == present
