"""The small languages inside specs: templates, paths, type references, derived names."""

from __future__ import annotations

import json
import re

import pytest

from connectql.spec.jsonschema import SCHEMA_FILE, render
from connectql.spec.naming import enum_value_name
from connectql.spec.paths import parse_path
from connectql.spec.templates import parse_template, render_value
from connectql.spec.typeref import parse_type_ref


def test_exported_json_schema_matches_the_models() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == render(), (
        "the spec models changed: run `python -m connectql.spec.jsonschema` and commit the file"
    )
    schema = json.loads(render())
    assert set(schema["properties"]) == {
        "extends",
        "spec_version",
        "connector",
        "config",
        "source",
        "types",
        "operations",
        "tests",
    }
    assert schema["else"]["required"] == ["connector", "source", "operations"]  # unless extends


def test_templates_keep_lone_values_and_join_mixed_text() -> None:
    scope = {"args": {"n": 3, "tags": ["a", "b"], "none": None}, "config": {"x": "y"}}
    assert render_value("{args.n}", scope) == 3
    assert render_value("{args.tags}", scope) == ["a", "b"]
    assert render_value("{args.none}", scope) is None
    assert render_value("n={args.n}&t={args.tags}", scope) == "n=3&t=a,b"
    assert render_value({"k": ["{config.x}", "lit {{x}}"]}, scope) == {"k": ["y", "lit {x}"]}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{os.system}", "unknown placeholder {os.system}"),
        ("{args.x", "unmatched '{'"),
        ("a}b", "unmatched '}'"),
        ("{args..x}", "bad path"),
    ],
)
def test_bad_templates_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_template(text)


def test_paths_select_keys_indexes_and_wildcards() -> None:
    data = {"a": {"b": [{"c": 1}, {"c": 2}, {"d": 3}]}, "x.y": 0}
    assert parse_path("a.b[0].c").get(data) == 1
    assert parse_path("a.b[-1].d").get(data) == 3
    assert parse_path("a.b[*].c").get(data) == [1, 2, None]
    assert parse_path(".").get(data) is data
    assert parse_path("a.missing.c").get(data) is None
    assert parse_path("a.b[9]").get(data) is None
    with pytest.raises(ValueError, match="position"):
        parse_path("a[x]")


def test_type_references() -> None:
    ref = parse_type_ref("[Book!]!")
    assert ref.is_list
    assert ref.non_null
    assert ref.base == "Book"
    assert str(ref) == "[Book!]!"
    with pytest.raises(ValueError, match="missing ']'"):
        parse_type_ref("[Book")


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("in-progress", "IN_PROGRESS"),
        ("inProgress", "IN_PROGRESS"),
        ("done", "DONE"),
        ("2xx", "_2XX"),
        ("a  b//c", "A_B_C"),
        ("", "EMPTY"),
        (3, "_3"),
    ],
)
def test_enum_value_names(raw: str | int, name: str) -> None:
    assert enum_value_name(raw) == name
