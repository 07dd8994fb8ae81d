"""Read YAML and JSON documents (schemas, jobs, cluster specs) with one-line errors.

Plain ``yaml.safe_load`` keeps the last of two equal keys silently; here a repeated key is an
error naming the file and line, as is any syntax error.
"""

from __future__ import annotations

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


def read_document(path: str | Path, error: type[TeleCrunchError]) -> Any:
    """Read and parse a YAML or JSON file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(str(path), "file not found", has_got=False) from None
    except IsADirectoryError:
        raise error(str(path), "is a folder, expected a file", has_got=False) from None
    except UnicodeDecodeError as exc:
        raise error(str(path), f"must be UTF-8 text ({exc.reason})", has_got=False) from None
    return parse_document(text, str(path), error)
