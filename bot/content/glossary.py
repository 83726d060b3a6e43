"""The editors' glossary (`_synonyms.yaml`): groups of terms that mean the same."""

from __future__ import annotations

from pathlib import Path

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.content.model import Glossary
from bot.content.problem import Problem
from bot.content.text_file import read_text
from bot.content.yaml_reader import YamlReader, describe, is_null

GLOSSARY_FILE = "_synonyms.yaml"
GLOSSARY_KEYS = ("synonyms",)
GROUP_HINT = "write each group as a list of two or more terms, e.g. '- [passwort, kennwort]'"


def normalize_term(term: str) -> str:
    """Return the term as the glossary stores it: lowercased, spaces stripped and collapsed."""
    return " ".join(term.lower().split())


def load_glossary(path: Path) -> tuple[Glossary, tuple[Problem, ...]]:
    """Read the glossary file; return its valid groups and the problems found."""
    text = read_text(path)
    if isinstance(text, Problem):
        return Glossary(), (text,)
    reader = YamlReader(str(path))
    groups: list[tuple[str, ...]] = []
    seen: dict[str, int] = {}
    for group_node in _group_nodes(reader.compose(text, "glossary"), reader):
        group = _group(group_node, seen, reader)
        if group is not None:
            groups.append(group)
    return Glossary(tuple(groups)), tuple(reader.problems)


def _group_nodes(root: Node | None, reader: YamlReader) -> list[Node]:
    """Return the nodes of the groups under 'synonyms'; record a problem if the shape is off."""
    if root is None:
        return []
    if not isinstance(root, MappingNode):
        reader.error(
            reader.line(root),
            f"the glossary is {describe(root)}; start it with 'synonyms:' and {GROUP_HINT}",
        )
        return []
    fields = reader.fields(root, GLOSSARY_KEYS, "glossary")
    field = fields.get("synonyms")
    if field is None:
        if not reader.problems:
            reader.error(1, f"missing 'synonyms'; add 'synonyms:' and below it {GROUP_HINT}")
        return []
    if is_null(field.value):
        return []
    if not isinstance(field.value, SequenceNode):
        reader.error(
            reader.line(field.value),
            f"'synonyms' must be a list of groups, not {describe(field.value)}; {GROUP_HINT}",
        )
        return []
    nodes: list[Node] = list(field.value.value)
    return nodes


def _group(node: Node, seen: dict[str, int], reader: YamlReader) -> tuple[str, ...] | None:
    """Return one group's terms if the group is valid; note its terms in `seen`."""
    if not isinstance(node, SequenceNode):
        reader.error(
            reader.line(node),
            f"a group in 'synonyms' is {describe(node)}, not a list; {GROUP_HINT}",
        )
        return None
    group_line = reader.line(node)
    terms: dict[str, int] = {}
    valid = True
    for item in node.value:
        line = reader.line(item)
        if not isinstance(item, ScalarNode) or is_null(item):
            shown = "empty" if is_null(item) else describe(item)
            reader.error(line, f"a term in 'synonyms' is {shown}; {GROUP_HINT}")
            valid = False
            continue
        term = normalize_term(str(item.value))
        if not term:
            reader.error(line, "a term in 'synonyms' is empty; fill it in or remove it")
            valid = False
        elif term in terms:
            reader.warning(
                line,
                f"term '{term}' in 'synonyms' appears twice in this group"
                f" (first on line {terms[term]}); remove one",
            )
        elif term in seen:
            reader.error(
                line,
                f"term '{term}' in 'synonyms' is already in the group on line {seen[term]};"
                " merge the two groups or remove it from one",
            )
            valid = False
        else:
            terms[term] = line
    for term in terms:
        seen.setdefault(term, group_line)
    if valid and len(terms) < 2:
        reader.error(
            group_line,
            f"a group in 'synonyms' has {len(terms)} term(s), it needs at least two; {GROUP_HINT}",
        )
        return None
    return tuple(terms) if valid else None
