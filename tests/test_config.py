"""Config: a typed TOML file, and one clear line naming file and key when it is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Config, ConfigError, load_config
from bot.matching.decision import Thresholds

EXAMPLE = Path(__file__).parent.parent / "config.example.toml"

VALID = """\
[telegram]
token = "123:abc"
base_url = ""
staff_chat_id = -1001234
mode = "polling"

[content]
path = "faq"

[storage]
database = "bot.sqlite3"

[billing]
currency = "EUR"
rate = "25.00"
increment_minutes = 15

[sla]
timezone = "Europe/Berlin"

[matching]
answer_threshold = 0.7
suggest_threshold = 0.25
margin = 0.2
max_suggestions = 2
"""


def write_config(folder: Path, text: str) -> Path:
    """Write a config file into the folder and return its path."""
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def config_error(path: Path) -> str:
    """Load the config, expect a ConfigError, and return its message."""
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "\n" not in message, message
    assert message.startswith(str(path)), message
    return message


def test_valid_config_is_loaded(tmp_path: Path) -> None:
    """A file using every section loads, and remembers where it came from."""
    path = write_config(tmp_path, VALID)
    config = load_config(path)
    assert config.source == path


def test_thresholds_come_through(tmp_path: Path) -> None:
    """The [matching] keys become the engine's thresholds."""
    config = load_config(write_config(tmp_path, VALID))
    assert config.thresholds == Thresholds(answer=0.7, suggest=0.25, margin=0.2, max_suggestions=2)


def test_integer_thresholds_are_accepted(tmp_path: Path) -> None:
    """A threshold written as a whole number (1 or 0) is a valid number."""
    config = load_config(write_config(tmp_path, "[matching]\nanswer_threshold = 1\nmargin = 0\n"))
    assert config.thresholds.answer == 1.0
    assert config.thresholds.margin == 0.0


def test_missing_keys_take_the_defaults(tmp_path: Path) -> None:
    """An empty file is valid: every key has a default."""
    config = load_config(write_config(tmp_path, ""))
    assert config.thresholds == Thresholds()
    assert config.content_path == tmp_path / "faq_content"


def test_relative_content_path_is_resolved_against_the_config_folder(tmp_path: Path) -> None:
    """A relative content path means: next to the config file, not the working directory."""
    folder = tmp_path / "etc"
    folder.mkdir()
    config = load_config(write_config(folder, '[content]\npath = "faq"\n'))
    assert config.content_path == folder / "faq"


def test_absolute_content_path_is_kept(tmp_path: Path) -> None:
    """An absolute content path is used as it is."""
    target = tmp_path / "elsewhere" / "faq"
    config = load_config(write_config(tmp_path, f'[content]\npath = "{target.as_posix()}"\n'))
    assert config.content_path == target


def test_example_config_is_valid() -> None:
    """The shipped config.example.toml loads without error."""
    assert load_config(EXAMPLE).source == EXAMPLE


def test_example_config_documents_the_defaults() -> None:
    """config.example.toml shows each key with its default, so loading it changes nothing."""
    assert load_config(EXAMPLE).thresholds == Config().thresholds


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[contnet]\npath = "faq"\n', ["[contnet]"]),
        ('[content]\npaht = "faq"\n', ["[content]", "paht"]),
        ("[content]\npath = 3\n", ["[content]", "path"]),
        ('[telegram]\nstaff_chat_id = "-100"\n', ["[telegram]", "staff_chat_id"]),
        ("[telegram]\nstaff_chat_id = true\n", ["[telegram]", "staff_chat_id"]),
        ('[matching]\nanswer_threshold = "0.6"\n', ["[matching]", "answer_threshold"]),
        ("[matching]\nmax_suggestions = 2.5\n", ["[matching]", "max_suggestions"]),
        ("[matching]\nmax_suggestions = 5\n", ["[matching]", "max_suggestions"]),
        ("[matching]\nmargin = 2\n", ["[matching]", "margin"]),
        ('content = "faq"\n', ["[content]"]),
    ],
)
def test_wrong_key_or_value_is_one_line_naming_file_and_key(
    tmp_path: Path, text: str, words: list[str]
) -> None:
    """An unknown section or key, or a value of the wrong type, names the file and the key."""
    message = config_error(write_config(tmp_path, text))
    for word in words:
        assert word in message


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[matching]\nanswer_threshold = 1.5\n", "answer_threshold"),
        ("[matching]\nsuggest_threshold = 0.9\n", "suggest_threshold"),
    ],
)
def test_threshold_out_of_range_names_its_key(tmp_path: Path, text: str, key: str) -> None:
    """A threshold out of range names the config key the operator has to fix."""
    assert key in config_error(write_config(tmp_path, text))


def test_unknown_key_lists_the_known_keys(tmp_path: Path) -> None:
    """A misspelt key is reported along with the keys that section allows."""
    message = config_error(write_config(tmp_path, '[content]\npaht = "faq"\n'))
    assert "path" in message.split("paht", 1)[1]


def test_missing_file_is_one_line_naming_the_file(tmp_path: Path) -> None:
    """A config path that does not exist stops with one line naming it."""
    assert "not found" in config_error(tmp_path / "nope.toml")


def test_invalid_toml_is_one_line_naming_the_file(tmp_path: Path) -> None:
    """A syntax error stops with one line naming the file and where the error is."""
    message = config_error(write_config(tmp_path, "[content]\npath = \n"))
    assert "TOML" in message
    assert "line 2" in message


def test_unreadable_file_is_one_line_naming_the_file(tmp_path: Path) -> None:
    """A file that is not UTF-8 text stops with one line naming it."""
    path = tmp_path / "config.toml"
    path.write_bytes(b"\xff\xfe[content]\n")
    config_error(path)
