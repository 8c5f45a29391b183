"""Read a connector spec (YAML or JSON) and report every problem at once, with its location.

    github.yaml:41:7 operations.listIssues.pagination.strategy: 'links' is not one of page,
    offset, cursor, link_header, next_url, none

The file is composed into YAML nodes first, so every key and item keeps its line and column;
pydantic validates the plain data; each pydantic error's location is mapped back to a node.
Semantic checks (`connectql.spec.checks`) run on the parts whose structure is valid, so one
pass reports both kinds, sorted by line. Messages never repeat the offending value except for
short enum-like choices, so a secret pasted in the wrong place is not echoed.

Reading is bounded (`TextLimits`): the parser's events are checked before anything is built,
so a few hundred bytes of nested aliases (a "billion laughs"), an alias inside its own anchor,
deep nesting or a huge value are refused in milliseconds, at their line and column.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
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
    Extends,
)
from connectql.spec.origins import remember

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
PREBUILT_DIR = FilePath(__file__).resolve().parent.parent / "connectors" / "builtin"
"""Where `extends: {builtin: NAME}` finds NAME/connector.yaml: files only, nothing imported
from the layer above; a spec (even one sent to the API) can name nothing outside it."""


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


MiB = 1024 * 1024


@dataclass(frozen=True)
class TextLimits:
    """What reading one YAML or JSON text may cost."""

    max_bytes: int = 10 * MiB
    """Five times the largest real spec we know (GitHub's whole API imported: 2 MB)."""
    max_depth: int = 100
    """Real specs nest 6 levels, GitHub's OpenAPI description 22; recursive code (composing,
    copying, validating) stays far from Python's stack limit."""
    max_alias_nodes: int = 100_000
    """Values that aliases (and `<<` merge keys) stand for, in all: anchors can still share
    blocks, and no text costs much more to read than a plain one of `max_bytes` would (GitHub's
    imported spec, 2 MB, holds 130,000)."""
    max_scalar: int = 1 * MiB
    """Characters of one value: a spec's text ends up in the schema, served to every client."""


SPEC_LIMITS = TextLimits()


def load_spec(path: str | FilePath) -> ConnectorSpec:
    """Load and check the spec file at `path`; raise SpecErrors listing every problem."""
    file = FilePath(path)
    try:
        with file.open(encoding="utf-8") as stream:  # no more than the limit, whatever the file
            text = stream.read(SPEC_LIMITS.max_bytes + 1)
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
    if isinstance(data, dict) and "extends" in data:
        data = _extended(data, positions, filename)
    return validate_data(data, positions, filename)


def _extended(data: dict[Any, Any], positions: Positions, filename: str) -> dict[Any, Any]:
    """The prebuilt spec `data` extends, without its `omit` keys, with `data` merged over it.
    Keys that come from the base are reported at the nearest key of `data` that holds them."""

    def refused(loc: Loc, problem: str) -> SpecErrors:
        mark = positions.at(loc)
        line, column = mark if mark else (None, None)
        where = SpecLocation(filename, line, column, _dotted(loc))
        return SpecErrors([SpecError(problem, where)])

    own = dict(data)
    try:
        extends = Extends.model_validate(own.pop("extends"))
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        pattern = str((err.get("ctx") or {}).get("pattern", ""))
        problem = PATTERN_NAMES.get(pattern) or f"{err['msg'][0].lower()}{err['msg'][1:]}"
        message = f"{problem} (extends is {{builtin: NAME, omit: [KEY, …]}})"
        raise refused(("extends", *err["loc"]), message) from None
    file = PREBUILT_DIR / extends.builtin / "connector.yaml"
    if not file.is_file():
        known = ", ".join(sorted(p.parent.name for p in PREBUILT_DIR.glob("*/connector.yaml")))
        raise refused(("extends", "builtin"), f"no prebuilt connector by that name ({known})")
    base, _ = _compose(file.read_text(encoding="utf-8"), str(file))
    if not isinstance(base, dict) or "extends" in base:
        raise refused(("extends", "builtin"), "that prebuilt spec cannot be extended")
    for i, dotted in enumerate(extends.omit):
        *parents, last = dotted.split(".")
        holder: Any = base
        for part in parents:
            holder = holder.get(part) if isinstance(holder, dict) else None
        if not isinstance(holder, dict) or last not in holder:
            raise refused(("extends", "omit", i), f"the base has no key {dotted}")
        del holder[last]
    merged: dict[Any, Any] = _merged(base, own)
    return merged


def _merged(base: Any, over: Any) -> Any:
    if not (isinstance(base, dict) and isinstance(over, dict)):
        return over
    return {**base, **{key: _merged(base.get(key), value) for key, value in over.items()}}


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
    remember(spec, filename, positions.marks.get)
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


# --- limits: checked before anything is built -------------------------------------------


def check_text(text: str, filename: str, limits: TextLimits = SPEC_LIMITS) -> None:
    """Raise SpecErrors if the data of `text` would cost more than `limits` allow.

    Reads the parser's events, which cost no more than the text, before anything is built;
    a syntax error is raised as the parser's yaml.MarkedYAMLError, for the caller to explain.
    """
    _check_size(text, filename, limits)
    anchored: dict[str, int] = {}
    """How many values each anchor stands for."""
    aliased = 0
    opened: list[str | None] = [None]
    """The anchor of each collection not closed yet (under the root's None)."""
    counts = [0]
    """How many values each of them holds so far."""
    for event in _events(text, filename, limits.max_depth):
        if isinstance(event, yaml.AliasEvent):
            if event.anchor in opened:
                problem = f"the alias *{event.anchor} is inside its own anchor: it never ends"
                raise _refused(filename, _mark(event), problem)
            size = anchored.get(event.anchor or "", 1)  # an unknown anchor: the composer says so
            aliased += size
            if aliased > limits.max_alias_nodes:
                problem = f"aliases stand for more than {limits.max_alias_nodes:,} values in all"
                raise _refused(filename, _mark(event), problem)
            counts[-1] += size
        elif isinstance(event, yaml.ScalarEvent):
            if len(event.value) > limits.max_scalar:
                problem = f"a value longer than {limits.max_scalar // MiB} MiB"
                raise _refused(filename, _mark(event), problem)
            if event.anchor is not None:
                anchored[event.anchor] = 1
            counts[-1] += 1
        elif isinstance(event, yaml.CollectionStartEvent):
            if len(opened) > limits.max_depth:
                problem = f"nested more than {limits.max_depth} levels deep"
                raise _refused(filename, _mark(event), problem)
            opened.append(event.anchor)
            counts.append(1)
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, size = opened.pop(), counts.pop()
            if anchor is not None:
                anchored[anchor] = size
            counts[-1] += size


def _events(text: str, filename: str, max_depth: int) -> Iterator[yaml.Event]:
    """The parser's events. libyaml has a nesting limit of its own (1,000), met before ours
    in flow style, where its scanner reads ahead: it is reported as ours."""
    try:
        yield from yaml.parse(text, Loader=COMPOSER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        if mark is None or "maximum nesting depth" not in (exc.problem or ""):
            raise
        problem = f"nested more than {max_depth} levels deep"
        raise _refused(filename, (mark.line + 1, mark.column + 1), problem) from None


def load_json(text: str, filename: str, limits: TextLimits = SPEC_LIMITS) -> Any:
    """json.loads within `limits`: its size and depth (JSON has no aliases)."""
    _check_size(text, filename, limits)
    try:
        data = json.loads(text)
    except RecursionError:  # the json module recurses once a level
        pass
    else:
        if _depth(data) <= limits.max_depth:
            return data
    problem = f"nested more than {limits.max_depth} levels deep"
    raise _refused(filename, _json_too_deep(text, limits.max_depth), problem)


def _check_size(text: str, filename: str, limits: TextLimits) -> None:
    if len(text.encode("utf-8", "surrogatepass")) > limits.max_bytes:
        problem = f"the text is larger than {limits.max_bytes // MiB} MiB"
        raise _refused(filename, None, problem)


def _refused(filename: str, mark: Mark | None, problem: str) -> SpecErrors:
    line, column = mark if mark is not None else (None, None)
    return SpecErrors([SpecError(problem, SpecLocation(filename, line, column, ""))])


def _depth(data: Any) -> int:
    """How deep lists and mappings nest in `data`, found without recursing."""
    deepest, todo = 0, [(data, 1)] if isinstance(data, dict | list) else []
    while todo:
        value, depth = todo.pop()
        items = value.values() if isinstance(value, dict) else value
        deepest = max(deepest, depth)
        todo += [(item, depth + 1) for item in items if isinstance(item, dict | list)]
    return deepest


_JSON_NESTING = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')
"""Strings (skipped: they may hold brackets) and brackets."""


def _json_too_deep(text: str, max_depth: int) -> Mark | None:
    """Line and column of the bracket that opens level `max_depth + 1`."""
    depth = 0
    for match in _JSON_NESTING.finditer(text):
        bracket = match.group()
        if bracket in "[{":
            depth += 1
            if depth > max_depth:
                before = text[: match.start()]
                return before.count("\n") + 1, match.start() - before.rfind("\n")
        elif bracket in "]}":
            depth -= 1
    return None


# --- YAML with positions ------------------------------------------------------------------


def _compose(text: str, filename: str) -> tuple[Any, Positions]:
    try:
        check_text(text, filename)
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
    builder = _Builder(filename)
    builder.positions.marks[()] = _mark(node)  # a key missing at the top is missing here
    data = builder.build(node, ())
    if builder.problems:
        raise SpecErrors(builder.problems)
    return data, builder.positions


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


def _mark(item: yaml.Node | yaml.Event) -> Mark:
    mark = item.start_mark
    assert mark is not None  # the parser marks every event
    return mark.line + 1, mark.column + 1


MERGE_TAG, VALUE_TAG = "tag:yaml.org,2002:merge", "tag:yaml.org,2002:value"
"""YAML 1.1's `<<` (merge) and `=` (value) keys."""


class _Builder:
    """Plain data from composed nodes (checked by check_text), with the marks of every key
    and item; problems are collected so that one pass reports them all."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.positions = Positions()
        self.problems: list[SpecError] = []
        self._constructor = yaml.SafeLoader("")

    def build(self, node: yaml.Node, loc: Loc) -> Any:
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, loc)
        if isinstance(node, yaml.SequenceNode):
            items = []
            for index, item in enumerate(node.value):
                self.positions.marks[(*loc, index)] = _mark(item)
                items.append(self.build(item, (*loc, index)))
            return items
        return self._scalar(node, loc)

    def _mapping(self, node: yaml.MappingNode, loc: Loc) -> dict[Any, Any]:
        # merged mappings first, so that the mapping's own keys (and their marks) win;
        # merged here rather than by PyYAML, whose older versions copy a merge bomb's nodes
        merged: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                for source in self._merge_sources(value_node, loc):
                    for key, value in self.build(source, loc).items():
                        merged.setdefault(key, value)  # the first mapping listed wins
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self._problem(
                    key_node, "a key must be text or a number, not a list or mapping", loc
                )
                continue
            key = self._scalar(key_node, loc)
            if not isinstance(key, str | int | float | bool) or key is None:
                key = str(key)
            key_loc = (*loc, key) if isinstance(key, str | int) else (*loc, str(key))
            if key in out:
                first = self.positions.marks.get(key_loc)
                where = f" (first at line {first[0]})" if first else ""
                self._problem(key_node, f"duplicate key {key!r}{where}", key_loc)
                continue
            self.positions.marks[key_loc] = _mark(key_node)
            out[key] = self.build(value_node, key_loc)
        return {**{k: v for k, v in merged.items() if k not in out}, **out}

    def _merge_sources(self, node: yaml.Node, loc: Loc) -> list[yaml.MappingNode]:
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        mappings = [source for source in sources if isinstance(source, yaml.MappingNode)]
        if len(mappings) == len(sources):
            return mappings
        self._problem(node, "a merge key (<<) takes a mapping, or a list of mappings", loc)
        return []

    def _scalar(self, node: yaml.Node, loc: Loc) -> Any:
        if node.tag in (MERGE_TAG, VALUE_TAG):
            return node.value  # `<<` or `=` where no key is: the text itself
        try:
            return self._constructor.construct_object(node, deep=True)
        except Exception:
            # PyYAML's constructors raise whatever a bad value makes them hit: ValueError
            # (2024-02-30), IndexError (!!int ""), KeyError (!!bool x), AttributeError
            if node.tag not in self._constructor.yaml_constructors:
                self._problem(node, f"the tag {_short(node.tag)} is not supported", loc)
            else:
                kind = node.tag.rpartition(":")[2]
                self._problem(node, f"this is not a valid {kind}; quote it if it is text", loc)
            return None

    def _problem(self, node: yaml.Node, message: str, loc: Loc = ()) -> None:
        line, column = _mark(node)
        self.problems.append(
            SpecError(message, SpecLocation(self.filename, line, column, _dotted(loc)))
        )


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
