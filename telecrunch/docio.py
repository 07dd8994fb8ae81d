"""Read YAML and JSON documents (schemas, jobs, cluster specs) with one-line errors.

Plain ``yaml.safe_load`` keeps the last of two equal keys silently; here a repeated key is an
error naming the file and line, as is any syntax error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from telecrunch.errors import TeleCrunchError


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses repeated keys in a mapping."""


def _mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    result: dict = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in result:
            line = key_node.start_mark.line + 1
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (line {line})", key_node.start_mark)
        result[key] = loader.construct_object(value_node, deep=deep)
    return result


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def parse_document(text: str, source: str, error: type[TeleCrunchError]) -> Any:
    """Parse YAML (a superset of JSON) text; ``source`` names it in errors."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        place = f"{source}:{mark.line + 1}" if mark else source
        problem = exc.problem or exc.context or "invalid YAML"
        raise error(place, f"invalid YAML/JSON: {problem}", has_got=False) from None
    except yaml.YAMLError as exc:
        raise error(source, f"invalid YAML/JSON: {exc}", has_got=False) from None


def _json_object(pairs: list[tuple[str, Any]]) -> dict:
    result: dict = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def parse_json(text: str, source: str, error: type[TeleCrunchError]) -> Any:
    """Parse JSON text (YAML 1.1 would read 1e+150 as a string; JSON numbers stay numbers)."""
    try:
        return json.loads(text, object_pairs_hook=_json_object)
    except json.JSONDecodeError as exc:
        raise error(f"{source}:{exc.lineno}", f"invalid JSON: {exc.msg}", has_got=False) from None
    except ValueError as exc:
        raise error(source, f"invalid JSON: {exc}", has_got=False) from None


def read_document(path: str | Path, error: type[TeleCrunchError]) -> Any:
    """Read and parse a YAML or JSON file (by its suffix; YAML otherwise)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(str(path), "file not found", has_got=False) from None
    except IsADirectoryError:
        raise error(str(path), "is a folder, expected a file", has_got=False) from None
    except UnicodeDecodeError as exc:
        raise error(str(path), f"must be UTF-8 text ({exc.reason})", has_got=False) from None
    if path.suffix.lower() == ".json":
        return parse_json(text, str(path), error)
    return parse_document(text, str(path), error)
