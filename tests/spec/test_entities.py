"""Entities: an object type's `key` and `lookup`, checked with file:line:column and path."""

from __future__ import annotations

import pytest

from connectql.errors import SpecErrors
from connectql.spec.entities import key_fields, lookup_of
from connectql.spec.loader import load_spec_text
from connectql.spec.models import ObjectType, Resolve
from tests.spec.test_loader import BASE

KEYED = BASE.replace("  Item:\n    key: id\n", "  Item:\n    key: id\n    lookup: item\n", 1)


def _item(text: str) -> ObjectType:
    found = load_spec_text(text, "shop.yaml").types["Item"]
    assert isinstance(found, ObjectType)
    return found


@pytest.mark.parametrize(
    ("old", "new", "key", "lookup"),
    [
        pytest.param(
            "lookup: item",
            "lookup: item",
            ("id",),
            Resolve(operation="item", args={"id": "{parent.id}"}),
            id="shorthand-passes-each-key-field",
        ),
        pytest.param(
            "lookup: item",
            'lookup: {operation: item, args: {id: "{parent.id}"}}',
            ("id",),
            Resolve(operation="item", args={"id": "{parent.id}"}),
            id="in-full",
        ),
        pytest.param("    lookup: item\n", "", ("id",), None, id="key-without-lookup"),
    ],
)
def test_a_lookup_in_full(old: str, new: str, key: tuple[str, ...], lookup: Resolve | None) -> None:
    item = _item(KEYED.replace(old, new, 1))
    assert key_fields(item) == key
    assert lookup_of(item) == lookup


BROKEN = [
    pytest.param(
        "key: id\n",
        "key: sku\n",
        "17:5 types.Item.key: key field 'sku' is not a field of Item (id, name, owner, "
        "ownerId, status)",
        id="key-field-missing",
    ),
    pytest.param(
        "key: id\n",
        "key: [id, owner]\n",
        "17:15 types.Item.key[1]: key field 'owner' resolves through an operation: a key is data",
        id="key-field-is-a-link",
    ),
    pytest.param(
        "lookup: item",
        "lookup: itm",
        "18:5 types.Item.lookup: lookup names operation 'itm', which is not declared (addItem, "
        "item, items, owner)",
        id="lookup-operation-missing",
    ),
    pytest.param(
        "lookup: item",
        "lookup: addItem",
        "18:5 types.Item.lookup: lookup operation 'addItem' is a mutation; it must be a query",
        id="lookup-is-a-mutation",
    ),
    pytest.param(
        "lookup: item",
        "lookup: items",
        "18:5 types.Item.lookup: lookup operation 'items' returns a list of Item; a lookup "
        "returns one Item (or null)",
        id="lookup-returns-a-list",
    ),
    pytest.param(
        "lookup: item",
        'lookup: {operation: owner, args: {id: "{parent.id}"}}',
        "18:14 types.Item.lookup.operation: lookup operation 'owner' returns Owner, not Item",
        id="lookup-returns-another-type",
    ),
    pytest.param(
        "    key: id\n    lookup: item\n",
        "    lookup: item\n",
        "17:5 types.Item.lookup: lookup needs key: the fields a gateway sends to identify one Item",
        id="lookup-without-key",
    ),
    pytest.param(
        "    key: id\n    lookup: item\n",
        "    key: name\n    lookup: item\n",
        "18:5 types.Item.lookup: operation 'item' has no argument 'name' for key field 'name'; "
        'write lookup: {operation: item, args: {ARG: "{parent.name}"}} (arguments: id)',
        id="shorthand-key-field-is-no-argument",
    ),
    pytest.param(
        "lookup: item",
        "lookup: {operation: item, args: {}}",
        "18:31 types.Item.lookup.args: operation 'item' needs argument 'id', which the lookup "
        "does not give (key: id)",
        id="required-argument-not-given",
    ),
    pytest.param(
        "lookup: item",
        'lookup: {operation: item, args: {id: "{parent.name}"}}',
        "18:38 types.Item.lookup.args.id: {parent.name} is not a key field of Item: a gateway "
        "sends only the key (id)",
        id="parent-beyond-the-key",
    ),
    pytest.param(
        "lookup: item",
        'lookup: {operation: item, args: {id: "{args.id}"}}',
        "18:38 types.Item.lookup.args.id: {args.id} is not available here (allowed: config, "
        "parent)",
        id="args-placeholder",
    ),
]


@pytest.mark.parametrize(("old", "new", "expected"), BROKEN)
def test_broken_entities_are_reported_at_their_location(old: str, new: str, expected: str) -> None:
    assert old in KEYED, f"the case's anchor text {old!r} is not in the spec"
    with pytest.raises(SpecErrors) as caught:
        load_spec_text(KEYED.replace(old, new, 1), "shop.yaml")
    reported = [str(e) for e in caught.value.errors]
    assert any(r.startswith(f"shop.yaml:{expected}") for r in reported), reported


def test_a_broken_lookup_operation_is_reported_once() -> None:
    """The lookup names an operation that is itself broken: its own error says why."""
    text = KEYED.replace("    response: {type: Item}\n", "    response: {type: 7}\n", 1)
    with pytest.raises(SpecErrors) as caught:
        load_spec_text(text, "shop.yaml")
    reported = [str(e) for e in caught.value.errors]
    assert not any("lookup" in r for r in reported), reported
