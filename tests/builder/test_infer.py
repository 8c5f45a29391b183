"""Spec types inferred from sample responses: scalars, nullability, lists, nesting, names, diff."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import connectql.demo
from connectql.builder.infer import (
    FieldChange,
    InferReport,
    diff_types,
    infer_report,
    infer_types,
    render_types_yaml,
)
from connectql.demo.upstream import make_catalogue
from connectql.spec.loader import load_spec, load_spec_text
from connectql.spec.models import ObjectType

BOOKSTORE = Path(connectql.demo.__file__).parent / "bookstore.yaml"


def fields_of(records: list[dict[str, Any]], root: str = "Item") -> dict[str, Any]:
    fields: dict[str, Any] = infer_types([records], root)[root]["fields"]
    return fields


def reasons_of(report: InferReport, type_name: str, field: str) -> list[str]:
    return [why for t, f, why in report.reasons if (t, f) == (type_name, field)]


# --- scalars -------------------------------------------------------------------------------


def test_integers_only_are_int() -> None:
    assert fields_of([{"n": 1}, {"n": -7}, {"n": 2**31 - 1}, {"n": -(2**31)}]) == {"n": "Int!"}


def test_any_non_integral_number_makes_float() -> None:
    assert fields_of([{"n": 1}, {"n": 2.5}, {"n": 3}]) == {"n": "Float!"}
    # a JSON `2.0` is written as a decimal: the upstream sends decimals there
    assert fields_of([{"n": 2.0}]) == {"n": "Float!"}


def test_integers_beyond_32_bits_are_float_and_say_why() -> None:
    report = infer_report([[{"n": 1}, {"n": 2**31}]], "Item")
    assert report.types["Item"]["fields"] == {"n": "Float!"}
    (why,) = reasons_of(report, "Item", "n")
    assert "32-bit" in why
    assert str(2**31) in why
    small = infer_report([[{"n": -(2**31) - 1}]], "Item")
    assert small.types["Item"]["fields"] == {"n": "Float!"}
    assert reasons_of(small, "Item", "n")


def test_booleans_are_never_int() -> None:
    assert fields_of([{"ok": True}, {"ok": False}]) == {"ok": "Boolean!"}
    report = infer_report([[{"flag": True}, {"flag": 1}]], "Item")
    assert report.types["Item"]["fields"] == {"flag": "JSON!"}
    assert "mixed kinds" in reasons_of(report, "Item", "flag")[0]


def test_strings_are_string_and_mixed_scalars_json() -> None:
    assert fields_of([{"s": "a"}, {"s": ""}]) == {"s": "String!"}
    report = infer_report([[{"v": "a"}, {"v": 1}, {"v": 1.5}]], "Item")
    assert report.types["Item"]["fields"] == {"v": "JSON!"}
    assert reasons_of(report, "Item", "v") == [
        "mixed kinds seen (float, integer, string); JSON passes them through"
    ]


def test_id_like_names_with_strings_or_ints_are_id() -> None:
    records = [
        {"id": 1, "author_id": "a1", "ownerId": 7, "userID": "u", "tag_ids": [1, 2], "paid": "x"},
        {"id": "2", "author_id": "a2", "ownerId": 2**40, "userID": "v", "tag_ids": [], "paid": "y"},
    ]
    assert fields_of(records) == {
        "id": "ID!",
        "authorId": {"type": "ID!", "from": "author_id"},
        "ownerId": "ID!",
        "userID": "ID!",
        "tagIds": {"type": "[ID!]!", "from": "tag_ids"},
        "paid": "String!",
    }


def test_id_like_names_with_other_values_follow_the_values() -> None:
    assert fields_of([{"id": 1.5}, {"id": 2}]) == {"id": "Float!"}
    assert fields_of([{"id": True}]) == {"id": "Boolean!"}
    assert fields_of([{"id": "a"}, {"id": False}]) == {"id": "JSON!"}


# --- nullability ----------------------------------------------------------------------------


def test_nullability_follows_presence_across_samples() -> None:
    samples = [
        [{"a": 1, "b": "x", "c": True, "d": 1}],
        [{"a": 2, "c": None, "d": 2}, {"a": 3, "b": "y", "c": False, "d": 3}],
    ]
    assert infer_types(samples, "Item")["Item"]["fields"] == {
        "a": "Int!",
        "b": "String",  # absent in one record
        "c": "Boolean",  # null in one record
        "d": "Int!",
    }


def test_a_field_seen_only_as_null_is_nullable_json_with_a_reason() -> None:
    report = infer_report([[{"id": "1", "gone": None}, {"id": "2", "gone": None}]], "Item")
    assert report.types["Item"]["fields"]["gone"] == "JSON"
    assert reasons_of(report, "Item", "gone") == [
        "only null seen; JSON until a sample shows a value"
    ]


# --- lists ----------------------------------------------------------------------------------


def test_lists_of_scalars_infer_the_element_type_over_all_elements() -> None:
    assert fields_of([{"t": ["a"]}, {"t": ["b", "c"]}]) == {"t": "[String!]!"}
    assert fields_of([{"t": [1]}, {"t": [2.5]}]) == {"t": "[Float!]!"}
    assert fields_of([{"t": [1, None]}, {"t": None}]) == {"t": "[Int]"}
    assert fields_of([{"m": [[1, 2], [3]]}]) == {"m": "[[Int!]!]!"}


def test_lists_of_objects_become_a_nested_type() -> None:
    types = infer_types(
        [[{"labels": [{"name": "bug", "color": "red"}, {"name": "ui"}]}, {"labels": []}]], "Issue"
    )
    assert types == {
        "Issue": {"fields": {"labels": "[IssueLabels!]!"}},
        "IssueLabels": {"fields": {"name": "String!", "color": "String"}},
    }


def test_empty_lists_only_are_json_lists_with_a_reason() -> None:
    report = infer_report([[{"t": []}, {"t": []}]], "Item")
    assert report.types["Item"]["fields"] == {"t": "[JSON]!"}
    assert "only empty lists" in reasons_of(report, "Item", "t")[0]
    nulls = infer_report([[{"t": [None]}, {}]], "Item")
    assert nulls.types["Item"]["fields"] == {"t": "[JSON]"}
    assert "only null" in reasons_of(nulls, "Item", "t")[0]


# --- nested objects -------------------------------------------------------------------------


def test_nested_objects_are_named_after_parent_and_field_recursively() -> None:
    record = {"id": 1, "author": {"name": "A", "home_address": {"city": "Oslo"}}}
    assert infer_types([record], "Book") == {
        "Book": {"fields": {"id": "ID!", "author": "BookAuthor!"}},
        "BookAuthor": {
            "fields": {
                "name": "String!",
                "homeAddress": {"type": "BookAuthorHomeAddress!", "from": "home_address"},
            }
        },
        "BookAuthorHomeAddress": {"fields": {"city": "String!"}},
    }


def test_nested_objects_with_varying_keys_are_merged() -> None:
    records = [
        {"author": {"name": "A", "born": 1901}},
        {"author": {"name": "B", "died": 1990}},
        {"author": None},
    ]
    types = infer_types([records], "Book")
    assert types["Book"]["fields"] == {"author": "BookAuthor"}
    assert types["BookAuthor"]["fields"] == {"name": "String!", "born": "Int", "died": "Int"}


def test_nested_type_names_never_collide() -> None:
    record = {"author_info": {"x": 1}, "author": {"info": {"y": 2}}}
    types = infer_types([record], "Book")
    assert types["Book"]["fields"]["authorInfo"] == {
        "type": "BookAuthorInfo!",
        "from": "author_info",
    }
    assert types["BookAuthor"]["fields"]["info"] == "BookAuthorInfo2!"
    assert types["BookAuthorInfo"]["fields"] == {"x": "Int!"}
    assert types["BookAuthorInfo2"]["fields"] == {"y": "Int!"}
    # generated names (PageInfo) are not taken either
    assert infer_types([{"info": {"a": 1}}], "Page")["Page"]["fields"] == {"info": "PageInfo2!"}


def test_empty_nested_objects_are_json() -> None:
    report = infer_report([[{"meta": {}}]], "Item")
    assert report.types == {"Item": {"fields": {"meta": "JSON!"}}}
    assert reasons_of(report, "Item", "meta")


# --- field names ----------------------------------------------------------------------------


def test_upstream_keys_become_camel_case_with_from() -> None:
    record = {
        "author_id": "1",
        "created-at": "2024",
        "HTMLParser": "x",
        "URL": "u",
        "Name": "n",
        "2fa_enabled": True,
        "__typename": "Book",
        "already_OK": 1,
        "plain": 2,
    }
    fields = fields_of([record])
    assert fields == {
        "authorId": {"type": "ID!", "from": "author_id"},
        "createdAt": {"type": "String!", "from": "created-at"},
        "htmlParser": {"type": "String!", "from": "HTMLParser"},
        "url": {"type": "String!", "from": "URL"},
        "name": {"type": "String!", "from": "Name"},
        "_2faEnabled": {"type": "Boolean!", "from": "2fa_enabled"},
        "typename": {"type": "String!", "from": "__typename"},
        "alreadyOK": {"type": "Int!", "from": "already_OK"},
        "plain": "Int!",
    }


@pytest.mark.parametrize(
    "records",
    [
        [{"author_id": 1, "authorId": 2, "author-id": 3}],
        [{"author-id": 3, "authorId": 2}, {"author_id": 1}],
    ],
)
def test_colliding_names_are_disambiguated_deterministically(records: list[Any]) -> None:
    report = infer_report([records], "Item")
    fields = report.types["Item"]["fields"]
    # the key that needs no `from` keeps its name; the others get numbers in first-seen order
    assert fields["authorId"] in ("ID!", "ID")
    renamed = {name: spec["from"] for name, spec in fields.items() if isinstance(spec, dict)}
    assert set(renamed) == {"authorId2", "authorId3"}
    assert set(renamed.values()) == {"author_id", "author-id"}
    first = next(k for r in records for k in r if k != "authorId")
    assert renamed["authorId2"] == first
    assert len(reasons_of(report, "Item", "authorId2")) == 1


@pytest.mark.parametrize("key", ["a.b", "tags[0]", "first name", "{x}", "x]", "*", "", " pad"])
def test_keys_no_from_path_can_name_are_skipped_with_a_reason(key: str) -> None:
    report = infer_report([[{"id": "1", key: 1}]], "Item")
    assert report.types["Item"]["fields"] == {"id": "ID!"}
    (why,) = reasons_of(report, "Item", key)
    assert "skipped" in why


def test_keys_with_no_ascii_name_are_skipped() -> None:
    report = infer_report([[{"id": "1", "---": 1, "名前": "x"}]], "Item")
    assert report.types["Item"]["fields"] == {"id": "ID!"}
    assert len(report.reasons) == 2


# --- records --------------------------------------------------------------------------------


def test_records_path_selects_lists_or_single_records() -> None:
    samples = [
        {"data": {"items": [{"id": "1", "n": 1}, {"id": "2"}]}},
        {"data": {"items": {"id": "3", "n": 2}}},
    ]
    assert infer_types(samples, "Item", records="data.items") == {
        "Item": {"fields": {"id": "ID!", "n": "Int"}}
    }


def test_samples_without_records_and_non_objects_are_noted() -> None:
    samples = [{"items": [{"id": "1"}, 3, "x"]}, {"other": []}]
    report = infer_report(samples, "Item", records="items")
    assert report.types == {"Item": {"fields": {"id": "ID!"}}}
    assert reasons_of(report, "Item", "") == [
        "sample 1: skipped 2 non-object record(s)",
        "sample 2: nothing at records path 'items'",
    ]


def test_no_records_or_a_bad_root_is_an_error() -> None:
    with pytest.raises(ValueError, match="no object records"):
        infer_types([{"items": [1, 2]}], "Item", records="items")
    with pytest.raises(ValueError, match="no keys"):
        infer_types([{}, {"a.b": 1}], "Item")
    with pytest.raises(ValueError, match="not a type name"):
        infer_types([{"a": 1}], "item")
    with pytest.raises(ValueError, match="built-in or generated"):
        infer_types([{"a": 1}], "Query")
    with pytest.raises(ValueError, match="bad path"):
        infer_types([{"a": 1}], "Item", records="a..b")


# --- determinism and YAML -------------------------------------------------------------------


def messy_samples() -> list[Any]:
    return [
        {
            "items": [
                {"z_last": 1, "id": 5, "meta": {"b": [1.5], "a": None}, "on": "x"},
                {"id": 6, "tags": [], "meta": {"c": {"deep": True}}, "a.b": 2},
            ]
        },
        {"items": [{"id": 7, "z_last": None, "yes": [{"k": "v"}, None]}]},
    ]


def test_the_same_input_gives_the_same_output() -> None:
    first = infer_report(messy_samples(), "Thing", records="items")
    second = infer_report(messy_samples(), "Thing", records="items")
    assert first == second
    assert list(first.types) == sorted(first.types)
    assert list(first.types["Thing"]["fields"]) == ["zLast", "id", "meta", "on", "tags", "yes"]
    assert first.yaml() == second.yaml()
    assert render_types_yaml(first.types) == render_types_yaml(second.types)


def test_rendered_yaml_reads_back_as_the_types() -> None:
    report = infer_report(messy_samples(), "Thing", records="items")
    text = report.yaml()
    assert yaml.safe_load(text) == {"types": report.types}
    assert '"on": String' in text  # YAML 1.1 would read a bare `on` as true
    assert '      tags: "[JSON]"  # only empty lists seen' in text
    assert "# a.b: upstream key 'a.b' skipped" in text
    assert render_types_yaml(
        {"B": {"fields": {"x": "Int"}}, "A": {"kind": "enum", "values": ["a"]}}
    ) == ("types:\n  A:\n    kind: enum\n    values: [a]\n  B:\n    fields:\n      x: Int\n")


def minimal_spec(types_yaml: str, root: str, records: str | None = None) -> str:
    response = f'{{type: "[{root}!]!"' + (f", records: {records}}}" if records else "}")
    return (
        "spec_version: 1\n"
        "connector: {name: shop}\n"
        'source: {base_url: "https://shop.example"}\n'
        f"{types_yaml}"
        "operations:\n"
        "  items:\n"
        "    request: {path: /items}\n"
        f"    response: {response}\n"
    )


def test_inferred_types_load_as_a_spec() -> None:
    report = infer_report(messy_samples(), "Thing", records="items")
    spec = load_spec_text(minimal_spec(report.yaml(), "Thing", "items"), "inferred.yaml")
    assert set(spec.types) == set(report.types)
    thing = spec.types["Thing"]
    assert isinstance(thing, ObjectType)
    assert thing.fields["zLast"].type == "Int"
    assert thing.fields["zLast"].from_ == "z_last"
    assert thing.fields["yes"].type == "[ThingYes]"
    assert diff_types(spec.types, report.types) == []


def test_bookstore_books_round_trip_through_the_loader() -> None:
    books, _ = make_catalogue()
    types = infer_types([list(books.values())], "Book")
    spec = load_spec_text(minimal_spec(render_types_yaml(types), "Book"))
    assert diff_types(spec.types, types) == []


# --- diff -----------------------------------------------------------------------------------


def book_pages() -> list[Any]:
    """Two `/books` pages, as the demo upstream serves them."""
    books = list(make_catalogue()[0].values())
    return [books[:50], books[50:100]]


def test_diff_against_the_bookstore_demo_book_type() -> None:
    declared = load_spec(BOOKSTORE).types
    inferred = infer_types(book_pages(), "Book")
    assert inferred == {
        "Book": {
            "fields": {
                "id": "ID!",
                "title": "String!",
                "genre": "String!",
                "year": "Int!",
                "price": "Float!",
                "tags": "[String!]!",
                "authorId": {"type": "ID!", "from": "author_id"},
            }
        }
    }
    changes = diff_types(declared, inferred)
    assert [(c.field, c.change, c.declared, c.inferred) for c in changes] == [
        ("genre", "type", "Genre", "String!"),
        ("year", "nullability", "Int", "Int!"),
        ("price", "nullability", "Float", "Float!"),
        ("tags", "nullability", "[String!]", "[String!]!"),
    ]
    assert all(c.type_name == "Book" for c in changes)
    assert "enum Genre" in changes[0].reason
    assert "every sample record has a value" in changes[1].reason
    # `author` resolves through an operation: not upstream data, so not "removed"


def test_diff_with_a_created_book_sample() -> None:
    created = {
        "id": "241",
        "title": "New",
        "genre": None,
        "year": None,
        "price": None,
        "tags": [],
        "author_id": "1",
    }
    declared = load_spec(BOOKSTORE).types
    changes = diff_types(declared, infer_types([*book_pages(), created], "Book"))
    assert [(c.field, c.change) for c in changes] == [
        ("genre", "type"),
        ("tags", "nullability"),
    ]


def test_diff_accepts_raw_dicts_and_models_alike() -> None:
    raw = yaml.safe_load(BOOKSTORE.read_text(encoding="utf-8"))["types"]
    inferred = infer_types(book_pages(), "Book")
    assert diff_types(raw, inferred) == diff_types(load_spec(BOOKSTORE).types, inferred)


def test_diff_reports_added_removed_type_and_nullability() -> None:
    declared = {
        "Item": {
            "fields": {
                "id": "ID!",
                "gone": "String",
                "count": "Int",
                "size": {"type": "Float!", "from": "size_cm"},
                "ownerId": {"type": "ID", "from": "owner.id"},
                "ownerName": {"type": "String!", "from": "owner.name"},
                "firstTag": {"type": "String", "from": "tags[0]"},
                "parent": {"type": "Item", "resolve": {"operation": "item"}},
            }
        },
        "Status": {"kind": "enum", "values": ["a"]},
    }
    inferred = infer_types(
        [[{"id": "1", "count": "many", "size_cm": None, "owner": {"id": "o"}, "tags": ["t"]}]],
        "Item",
    )
    assert diff_types(declared, inferred) == [
        FieldChange("Item", "owner", "added", None, "ItemOwner!", "seen in the samples at owner"),
        FieldChange("Item", "tags", "added", None, "[String!]!", "seen in the samples at tags"),
        FieldChange(
            "Item", "gone", "removed", "String", None, "not seen in any sample (path gone)"
        ),
        FieldChange(
            "Item", "count", "type", "Int", "String!", "declared Int, samples suggest String!"
        ),
        FieldChange(
            "Item",
            "size",
            "type",
            "Float!",
            "JSON",
            "the samples could not pin the type (only nulls, empty lists or mixed kinds)",
        ),
        FieldChange(
            "Item",
            "ownerId",
            "nullability",
            "ID",
            "ID!",
            "every sample record has a value; declared nullable",
        ),
        FieldChange(
            "Item",
            "ownerName",
            "removed",
            "String!",
            None,
            "not seen in any sample (path owner.name)",
        ),
        # firstTag (tags[0]) is a nullable String either way: an index may be out of range
        FieldChange("ItemOwner", "id", "added", None, "ID!", "new type"),
    ]
