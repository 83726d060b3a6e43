"""YAML read as nodes, so every key and value keeps its line in the file."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.content.problem import Problem, Severity

NULL_TAG = "tag:yaml.org,2002:null"


@dataclass(frozen=True, slots=True)
class Field:
    """One `key: value` pair of a YAML mapping."""

    name: str
    line: int
    value: Node


@dataclass(frozen=True, slots=True)
class Text:
    """A text value and the file line it came from."""

    value: str
    line: int


def suggestion(word: str, choices: Sequence[str]) -> str:
    """Return "; did you mean 'x'?" for the closest choice, or nothing if none is close."""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not close:
        close = difflib.get_close_matches(word.lower(), choices, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def collapse(text: str) -> str:
    """Return the text stripped, with every run of whitespace made one space."""
    return " ".join(text.split())


def describe(node: Node) -> str:
    """Name the kind of a YAML node the way an editor thinks of it."""
    if isinstance(node, MappingNode):
        return "a mapping (key: value lines)"
    if isinstance(node, SequenceNode):
        return "a list"
    return "text"


class YamlReader:
    """Compose YAML from one file and collect the problems found, with file lines."""

    __slots__ = ("first_line", "path", "problems")

    def __init__(self, path: str, first_line: int = 1) -> None:
        self.path = path
        self.first_line = first_line
        self.problems: list[Problem] = []

    def line(self, node: Node) -> int:
        """Return the file line where the node starts."""
        mark = node.start_mark
        return self.first_line + (mark.line if mark is not None else 0)

    def error(self, line: int, message: str) -> None:
        """Record an error at a file line."""
        self.problems.append(Problem(self.path, line, message, Severity.ERROR))

    def warning(self, line: int, message: str) -> None:
        """Record a warning at a file line."""
        self.problems.append(Problem(self.path, line, message, Severity.WARNING))

    @property
    def has_errors(self) -> bool:
        """Tell whether any error was recorded."""
        return any(problem.is_error for problem in self.problems)

    def compose(self, text: str, what: str) -> Node | None:
        """Return the YAML text's root node (None when empty); record syntax errors."""
        try:
            return yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as error:
            self.error(*self._syntax_error(error, what))
        except yaml.reader.ReaderError as error:
            line = self.first_line + text.count("\n", 0, error.position)
            self.error(
                line,
                f"the {what} contains the control character {error.character!r}; remove it",
            )
        except yaml.YAMLError as error:
            self.error(self.first_line, f"cannot read the {what} as YAML ({error}); fix its syntax")
        except RecursionError:
            self.error(self.first_line, f"the {what} is nested too deeply; simplify it")
        return None

    def _syntax_error(self, error: yaml.MarkedYAMLError, what: str) -> tuple[int, str]:
        """Return the line and message for a YAML syntax error, with a hint to fix it."""
        problem = error.problem or "invalid YAML"
        where = error.problem_mark
        context = ""
        if error.context and error.context_mark is not None:
            context = f" ({error.context} on line {self.first_line + error.context_mark.line})"
            if where is None or "end of stream" in problem:
                where = error.context_mark
        line = self.first_line + (where.line if where is not None else 0)
        if "'\\t'" in problem:
            hint = "indent with spaces, not tabs"
        elif "got '?'" in problem:
            hint = "inside [ ] put quotes around text with '?', or write one '- ' item per line"
        elif "quoted scalar" in (error.context or ""):
            hint = "close the quote"
        elif "mapping values are not allowed" in problem:
            hint = "put quotes around a value that contains ': '"
        else:
            hint = "check the indentation, and quote values that contain special characters"
        return line, f"YAML syntax error in the {what}: {problem}{context}; {hint}"

    def fields(self, node: MappingNode, allowed: Sequence[str], what: str) -> dict[str, Field]:
        """Return the mapping's fields by name; record odd, duplicate and unknown keys."""
        fields: dict[str, Field] = {}
        for key, value in node.value:
            line = self.line(key)
            if not isinstance(key, ScalarNode) or key.tag == NULL_TAG:
                self.error(
                    line,
                    f"a key in the {what} is {describe(key)}; write plain 'key: value' lines"
                    f" (allowed keys: {', '.join(allowed)})",
                )
                continue
            name = str(key.value)
            if name not in allowed:
                self.error(
                    line,
                    f"unknown key '{name}' (allowed: {', '.join(allowed)})"
                    f"{suggestion(name, allowed) or '; remove it'}",
                )
                continue
            if name in fields:
                self.error(
                    line,
                    f"key '{name}' is given twice (first on line {fields[name].line});"
                    " keep only one",
                )
                continue
            fields[name] = Field(name, line, value)
        return fields

    def value_line(self, field: Field) -> int:
        """Return the line of the field's value, or of its key when the value is empty."""
        if is_null(field.value):
            return field.line
        return self.line(field.value)

    def text(self, field: Field, hint: str) -> Text | None:
        """Return the field's text (empty when null); record an error if it is no text."""
        value = field.value
        if not isinstance(value, ScalarNode):
            self.error(
                self.line(value),
                f"'{field.name}' must be text, not {describe(value)}; {hint}",
            )
            return None
        return Text("" if is_null(value) else str(value.value).strip(), self.value_line(field))

    def texts(self, field: Field, hint: str) -> list[Text] | None:
        """Return the field's list of non-empty texts; record an error for anything else."""
        value = field.value
        if is_null(value):
            return []
        if not isinstance(value, SequenceNode):
            self.error(
                self.line(value),
                f"'{field.name}' must be a list, not {describe(value)}; {hint}",
            )
            return None
        items: list[Text] = []
        valid = True
        for item in value.value:
            line = self.line(item)
            if not isinstance(item, ScalarNode):
                self.error(
                    line,
                    f"each item of '{field.name}' must be text, not {describe(item)}; {hint}",
                )
                valid = False
            elif is_null(item) or not collapse(str(item.value)):
                self.error(line, f"an item of '{field.name}' is empty; remove it or fill it in")
                valid = False
            else:
                items.append(Text(collapse(str(item.value)), line))
        return items if valid else None


def is_null(node: Node) -> bool:
    """Tell whether the node is an empty value (`key:` with nothing after it, `~`, `null`)."""
    return isinstance(node, ScalarNode) and node.tag == NULL_TAG
