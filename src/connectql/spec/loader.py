"""Read a connector spec (YAML or JSON) and report every problem at once, with its location.

    github.yaml:41:7 operations.listIssues.pagination.strategy: 'links' is not one of page,
    offset, cursor, link_header, next_url, none

The file is composed into YAML nodes first, so every key and item keeps its line and column;
pydantic validates the plain data; each pydantic error's location is mapped back to a node.
Semantic checks (`connectql.spec.checks`) run on the parts whose structure is valid, so one
pass reports both kinds, sorted by line. Messages never repeat the offending value except for
short enum-like choices, so a secret pasted in the wrong place is not echoed.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from pathlib import Path as FilePath
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from connectql.errors import SpecError, SpecErrors, SpecLocation
from connectql.spec.checks import check_spec
from connectql.spec.models import (
    GRAPHQL_NAME_PATTERN,
    NAME_PATTERN,
    TYPE_NAME_PATTERN,
    ConnectorSpec,
)

COMPOSER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's composer when PyYAML has it (about 10 times faster; the same nodes and marks)."""

Loc = tuple[str | int, ...]
PATTERN_NAMES = {
    NAME_PATTERN: "must be lower-case letters, digits and _, starting with a letter",
    GRAPHQL_NAME_PATTERN: (
        "must be a GraphQL name: letters, digits and _, not starting with a digit"
    ),
    TYPE_NAME_PATTERN: "must be a type name: letters, digits and _, starting with a capital",
}
Mark = tuple[int, int]
"""1-based line and column."""


class Positions:
    """Where each key and item of the composed document starts."""

    def __init__(self) -> None:
        self.marks: dict[Loc, Mark] = {}

    def at(self, loc: Loc) -> Mark | None:
        """The mark of `loc`, or of its nearest ancestor that has one."""
        for end in range(len(loc), -1, -1):
            mark = self.marks.get(loc[:end])
            if mark is not None:
                return mark
        return None


def load_spec(path: str | FilePath) -> ConnectorSpec:
    """Load and check the spec file at `path`; raise SpecErrors listing every problem."""
    file = FilePath(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecErrors(
            [
                SpecError(
                    f"cannot read the file: {exc.strerror}", SpecLocation(str(file), None, None, "")
                )
            ]
        ) from None
    except UnicodeDecodeError:
        raise SpecErrors(
            [SpecError("the file is not UTF-8 text", SpecLocation(str(file), None, None, ""))]
        ) from None
    return load_spec_text(text, str(file))


def load_spec_text(text: str, filename: str = "<spec>") -> ConnectorSpec:
    """Load and check a spec given as YAML or JSON text; `filename` appears in errors."""
    data, positions = _compose(text, filename)
    return validate_data(data, positions, filename)


def validate_data(data: Any, positions: Positions, filename: str) -> ConnectorSpec:
    def located(loc: Loc, message: str) -> SpecError:
        mark = positions.at(loc)
        return SpecError(
            message,
            SpecLocation(
                filename, mark[0] if mark else None, mark[1] if mark else None, _dotted(loc)
            ),
        )

    if not isinstance(data, dict):
        raise SpecErrors([located((), "a connector spec must be a mapping (key: value pairs)")])
    try:
        spec = ConnectorSpec.model_validate(data)
    except ValidationError as exc:
        structural = [_explain(err, data) for err in exc.errors(include_url=False)]
        broken = {_part(loc) for loc, _ in structural}
        rest = _well_formed(data, broken)
        semantic = check_spec(rest, broken) if rest is not None else []
        raise SpecErrors(_in_file_order([located(*p) for p in [*structural, *semantic]])) from None
    problems = [located(loc, message) for loc, message in check_spec(spec)]
    if problems:
        raise SpecErrors(_in_file_order(problems))
    return spec


# --- the well-formed rest of a broken spec ------------------------------------------------

ENTRIES = ("config", "types", "operations")
"""Sections whose entries are checked one by one: a broken entry leaves the others."""
STAND_INS: dict[str, Any] = {"connector": {"name": "spec"}, "source": {"base_url": ""}}
"""Minimal valid values for required sections that are broken, so that the rest can still be
checked; they hold no references, so no problem is found in them."""


def _part(loc: Loc) -> Loc:
    """The part a structural error breaks: an entry of ENTRIES, else a top-level section."""
    return loc[:2] if loc[:1] and loc[0] in ENTRIES and len(loc) > 1 else loc[:1]


def _well_formed(data: dict[Any, Any], broken: set[Loc]) -> ConnectorSpec | None:
    """The spec without its `broken` parts, or None when too little is left to check."""
    if () in broken:
        return None
    rest = {key: STAND_INS[key] for key in STAND_INS if (key,) in broken}
    for key, value in data.items():
        if (key,) in broken:
            continue  # an optional section keeps its default
        if key in ENTRIES and isinstance(value, dict):
            value = {name: v for name, v in value.items() if (key, name) not in broken}
        rest[key] = value
    try:
        return ConnectorSpec.model_validate(rest)
    except ValidationError:  # e.g. every operation is broken
        return None


# --- YAML with positions ------------------------------------------------------------------


class _DuplicateKey(Exception):
    def __init__(self, loc: Loc, key: str, first: Mark, mark: Mark) -> None:
        self.loc, self.key, self.first, self.mark = loc, key, first, mark


def _compose(text: str, filename: str) -> tuple[Any, Positions]:
    positions = Positions()
    try:
        node = yaml.compose(text, Loader=COMPOSER)
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow
        before = text[: exc.position]
        line, column = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
        raise SpecErrors(
            [
                SpecError(
                    f"invalid YAML/JSON: character U+{exc.character:04X} is not allowed",
                    SpecLocation(filename, line, column, ""),
                )
            ]
        ) from None
    except yaml.MarkedYAMLError as exc:
        at_line, at_column, problem = _syntax_error(exc, text)
        raise SpecErrors(
            [
                SpecError(
                    f"invalid YAML/JSON: {problem}",
                    SpecLocation(filename, at_line, at_column, ""),
                )
            ]
        ) from None
    if node is None:
        raise SpecErrors([SpecError("the spec is empty", SpecLocation(filename, 1, 1, ""))])
    constructor = yaml.SafeLoader("")
    duplicates: list[SpecError] = []
    data = _build(node, (), positions, constructor, duplicates, filename)
    if duplicates:
        raise SpecErrors(duplicates)
    return data, positions


SIMPLE_KEY = "while scanning a simple key"
"""PyYAML's and libyaml's context for a key whose ':' never came."""


def _syntax_error(exc: yaml.MarkedYAMLError, text: str) -> tuple[int | None, int | None, str]:
    """Line, column and message of a YAML syntax error, at the mistake."""
    problem = exc.problem_mark
    before = _token_before(text, problem) if problem is not None else None
    if (
        isinstance(before, yaml.ScalarToken)
        and before.style in ('"', "'")
        and before.start_mark.line < before.end_mark.line
    ):  # a quote left open takes in the lines up to the next quote
        start, end = before.start_mark, before.end_mark
        message = f"this quoted text runs on to line {end.line + 1}: is its closing quote missing?"
        return start.line + 1, start.column + 1, message
    mark = _mistake(exc, text, before)
    if mark is None:
        return None, None, _syntax_problem(exc, text, None)
    if _at_end(mark, text):  # nothing began: the last thing written is unfinished
        written = text.rstrip()
        line, column = written.count("\n") + 1, len(written) - written.rfind("\n") - 1
    else:
        line, column = mark.line + 1, mark.column + 1
    return line, column, _syntax_problem(exc, text, line)


def _mistake(exc: yaml.MarkedYAMLError, text: str, before: yaml.Token | None) -> yaml.Mark | None:
    """The parser says where it gave up, which can be lines after the mistake."""
    problem, context = exc.problem_mark, exc.context_mark
    if problem is None or context is None:
        return problem or context
    if _at_end(problem, text) or exc.context == SIMPLE_KEY:
        return context  # where the part left open (to the end), or the key without ':', began
    if text[context.index : context.index + 1] not in ("[", "{") or context.line == problem.line:
        return problem
    if not text.lstrip().startswith(("{", "[")):
        return context  # a bracket left open in block YAML took in the lines after it
    item: yaml.Mark | None = before.start_mark if before is not None else None
    if item is not None and item.line < problem.line:
        return item  # JSON: the item a ',' or closing bracket should follow
    return problem


def _token_before(text: str, problem: yaml.Mark) -> yaml.Token | None:
    """The last token that starts before the error."""
    last = None
    try:
        for token in yaml.scan(text, Loader=COMPOSER):
            if token.start_mark.index >= problem.index:
                break
            last = token
    except yaml.MarkedYAMLError:
        pass
    return last


def _at_end(mark: yaml.Mark, text: str) -> bool:
    return not text[mark.index :].strip()


def _syntax_problem(exc: yaml.MarkedYAMLError, text: str, line: int | None) -> str:
    """The parser's words, with the line its context began on when that is not `line`."""
    message = exc.problem or "invalid YAML"
    context, problem = exc.context_mark, exc.problem_mark
    if exc.context:
        message += f" {exc.context}"
        began = context.line + 1 if context and not _at_end(context, text) else None
        if began is not None and began != line:
            message += f" (started at line {began})"
    tab = problem is not None and text[problem.index : problem.index + 1] == "\t"
    if tab and "tab" not in message:  # libyaml does not say which character it found
        message += "; it is a tab: YAML indents with spaces"
    return message


def _mark(node: yaml.Node) -> Mark:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _build(
    node: yaml.Node,
    loc: Loc,
    positions: Positions,
    constructor: yaml.SafeLoader,
    duplicates: list[SpecError],
    filename: str,
) -> Any:
    if isinstance(node, yaml.MappingNode):
        constructor.flatten_mapping(node)  # YAML merge keys (<<)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = constructor.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) or key is None:
                key = str(key)
            key_loc = (*loc, key) if isinstance(key, (str, int)) else (*loc, str(key))
            if key in out:
                first = positions.marks.get(key_loc)
                where = f" (first at line {first[0]})" if first else ""
                line, column = _mark(key_node)
                duplicates.append(
                    SpecError(
                        f"duplicate key {key!r}{where}",
                        SpecLocation(filename, line, column, _dotted(key_loc)),
                    )
                )
                continue
            positions.marks[key_loc] = _mark(key_node)
            out[key] = _build(value_node, key_loc, positions, constructor, duplicates, filename)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for index, item in enumerate(node.value):
            positions.marks[(*loc, index)] = _mark(item)
            items.append(_build(item, (*loc, index), positions, constructor, duplicates, filename))
        return items
    return constructor.construct_object(node, deep=True)


# --- pydantic errors, explained -----------------------------------------------------------


def _explain(err: ErrorDetails, data: Any) -> tuple[Loc, str]:
    kind = err["type"]
    loc = _data_loc(err["loc"], data, missing=kind == "missing")
    ctx = err.get("ctx") or {}
    value = err.get("input")
    if kind == "union_tag_invalid":
        key = str(ctx.get("discriminator", "")).strip("'")
        choices = _choices(ctx.get("expected_tags"))
        return (*loc, key), f"{_short(ctx.get('tag'))} is not one of {choices}"
    if kind == "union_tag_not_found":
        key = str(ctx.get("discriminator", "")).strip("'")
        return loc, f"'{key}' is required"
    if kind == "invalid_kind":
        given = value.get("kind") if isinstance(value, dict) else value
        return (*loc, "kind"), f"{_short(given)} is not one of object, input, enum, union"
    if kind == "literal_error":
        return loc, f"{_short(value)} is not one of {_choices(ctx.get('expected'))}"
    if kind == "missing":
        return loc, f"'{loc[-1]}' is required" if loc else "a required key is missing"
    if kind == "extra_forbidden":
        return loc, _unknown_key(loc, data)
    if kind in ("value_error", "assertion_error"):
        return loc, str(ctx.get("error", err["msg"]))
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        return loc, PATTERN_NAMES.get(pattern, f"must match the pattern {pattern}")
    if kind.endswith(("_type", "_parsing")):
        return loc, f"{err['msg'][0].lower()}{err['msg'][1:]}, got {_type_name(value)}"
    return loc, f"{err['msg'][0].lower()}{err['msg'][1:]}"


def _data_loc(raw: Sequence[str | int], data: Any, *, missing: bool) -> Loc:
    """Keep the parts of a pydantic loc that exist in the data (drops union tags).

    For a `missing` error the last part is the absent key, and is kept.
    """
    out: list[str | int] = []
    current = data
    for i, part in enumerate(raw):
        last = i == len(raw) - 1
        if part == "[key]":  # a bad mapping key: the key itself is the place
            return tuple(out)
        if _has(current, part):
            current = current[part]
            out.append(part)
        elif last and missing and isinstance(current, dict):
            out.append(part)  # a missing key
            return tuple(out)
        # else: a union tag or validator name pydantic adds; not a place in the file
    return tuple(out)


def _has(container: Any, part: str | int) -> bool:
    if isinstance(container, dict):
        return part in container
    return isinstance(container, list) and isinstance(part, int) and 0 <= part < len(container)


def _unknown_key(loc: Loc, data: Any) -> str:
    key = loc[-1]
    known = _known_keys(loc[:-1], data)
    hint = difflib.get_close_matches(str(key), known, n=1) if known else []
    return f"unknown key '{key}'" + (f"; did you mean '{hint[0]}'?" if hint else "")


def _known_keys(loc: Loc, data: Any) -> list[str]:
    """The keys the model at `loc` accepts, found by walking the models beside the data."""
    annotation: Any = ConnectorSpec
    for part in loc:
        model = _model_for(annotation, data)
        if model is not None:
            field = next(
                (f for name, f in model.model_fields.items() if part in (name, f.alias)), None
            )
            if field is None:
                return []
            annotation = field.annotation
        else:
            args: tuple[Any, ...] = getattr(annotation, "__args__", ())
            origin = getattr(annotation, "__origin__", None)
            if origin is dict and len(args) == 2:
                annotation = args[1]
            elif origin is list and args:
                annotation = args[0]
            else:
                return []
        data = data.get(part) if isinstance(data, dict) else None
    model = _model_for(annotation, data)
    return [f.alias or name for name, f in model.model_fields.items()] if model else []


DISCRIMINATORS = ("type", "strategy", "kind")


def _model_for(annotation: Any, data: Any) -> type[BaseModel] | None:
    """The model class `data` is validated against, choosing a union member by its tag."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    members = [m for m in _flatten(annotation) if isinstance(m, type) and issubclass(m, BaseModel)]
    if not isinstance(data, dict) or len(members) <= 1:
        return members[0] if members else None
    for member in members:
        for key in DISCRIMINATORS:
            field = member.model_fields.get(key)
            if field is not None:
                value = data.get(key, field.default)
                if value in getattr(field.annotation, "__args__", ()):
                    return member
    return None


def _flatten(annotation: Any) -> list[Any]:
    if hasattr(annotation, "__metadata__"):  # Annotated[X, ...]
        return _flatten(annotation.__origin__)
    args = getattr(annotation, "__args__", None)
    if args is None or getattr(annotation, "__origin__", None) in (dict, list):
        return [annotation]
    return [m for arg in args for m in _flatten(arg)]


_QUOTED = re.compile(r"'([^']*)'")


def _choices(expected: Any) -> str:
    text = str(expected or "")
    names = _QUOTED.findall(text)
    return ", ".join(names) if names else text


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "...'"


def _type_name(value: Any) -> str:
    return {
        dict: "a mapping",
        list: "a list",
        str: "text",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def _dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _in_file_order(errors: list[SpecError]) -> list[SpecError]:
    """Each problem once, by line and column; those without a line (the whole file) first."""
    seen: set[str] = set()
    out = []
    for error in errors:
        if str(error) not in seen:
            seen.add(str(error))
            out.append(error)
    return sorted(out, key=lambda e: (e.location.line or 0, e.location.column or 0))
