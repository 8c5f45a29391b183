"""The loader reports every broken spec at its exact file:line:column and spec path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from connectql.errors import SpecErrors
from connectql.spec import loader
from connectql.spec.loader import load_spec, load_spec_text
from connectql.spec.models import ApiKeyAuth, LinkHeaderPagination

BASE = """\
spec_version: 1
connector:
  name: shop
  title: A shop
config:
  base_url: {required: true}
  token: {required: true, secret: true}
source:
  base_url: "{config.base_url}"
  auth: {type: api_key, key: "{config.token}", name: X-Key}
  retry: {max_attempts: 3}
types:
  Status:
    kind: enum
    values: [in-stock, sold-out]
  Item:
    key: id
    fields:
      id: ID!
      name: String!
      status: Status
      ownerId: {type: ID, from: owner.id}
      owner:
        type: Owner
        resolve: {operation: owner, args: {id: "{parent.owner.id}"}}
  Owner:
    fields:
      id: ID!
      name: String
  ItemInput:
    kind: input
    fields:
      name: String!
operations:
  items:
    args: {status: Status}
    request: {path: /items, query: {status: "{args.status}"}}
    response: {type: "[Item!]!", records: data}
    pagination: {strategy: link_header, size_param: per_page, page_size: 50}
  item:
    args: {id: ID!}
    request: {path: "/items/{args.id}"}
    response: {type: Item}
  owner:
    args: {id: ID!}
    request: {path: "/owners/{args.id}"}
    response: {type: Owner}
    batch: {key: id, mode: request, request: {path: /owners, query: {ids: "{keys}"}}, match_on: id}
  addItem:
    kind: mutation
    args: {input: ItemInput!}
    request: {method: POST, path: /items, body: "{args.input}"}
    response: {type: Item!}
"""


def test_the_base_spec_is_valid() -> None:
    spec = load_spec_text(BASE, "shop.yaml")
    assert spec.name == "shop"
    assert isinstance(spec.source.auth, ApiKeyAuth)
    assert isinstance(spec.operations["items"].pagination, LinkHeaderPagination)
    assert spec.operations["addItem"].kind == "mutation"


def test_json_specs_load_too(tmp_path: Path) -> None:
    file = tmp_path / "shop.json"
    file.write_text(json.dumps(yaml.safe_load(BASE), indent=2))
    assert load_spec(file).name == "shop"


BROKEN = [
    # (id, old text, new text, expected "line:column path: message")
    (
        "pagination strategy",
        "strategy: link_header",
        "strategy: links",
        "39:18 operations.items.pagination.strategy: 'links' is not one of page, offset, "
        "cursor, link_header, next_url, none",
    ),
    (
        "auth type",
        "type: api_key",
        "type: apikey",
        "10:10 source.auth.type: 'apikey' is not one of none, api_key, bearer, basic, oauth2, "
        "aws_sigv4, custom",
    ),
    (
        "unknown key with a suggestion",
        "  retry: {max_attempts: 3}",
        "  retry: {max_attempt: 3}",
        "11:11 source.retry.max_attempt: unknown key 'max_attempt'; did you mean 'max_attempts'?",
    ),
    (
        "unknown top-level key",
        "spec_version: 1\n",
        "spec_version: 1\nconectors: []\n",
        "2:1 conectors: unknown key 'conectors'; did you mean 'connector'?",
    ),
    ("missing required key", "  name: shop\n", "", "2:1 connector.name: 'name' is required"),
    (
        "connector name pattern",
        "name: shop",
        "name: My-Shop",
        "3:3 connector.name: must be lower-case letters, digits and _, starting with a letter",
    ),
    (
        "type name pattern",
        "  Owner:\n    fields",
        "  owner_t:\n    fields",
        "26:3 types.owner_t: must be a type name: letters, digits and _, starting with a capital",
    ),
    (
        "type kind",
        "kind: enum",
        "kind: enumeration",
        "14:5 types.Status.kind: 'enumeration' is not one of object, input, enum, union",
    ),
    (
        "unknown field type",
        "      status: Status\n",
        "      status: Statos\n",
        "21:7 types.Item.fields.status.type: unknown type 'Statos' (declared types: Item, "
        "ItemInput, Owner, Status; scalars: Boolean, Float, ID, Int, JSON, Long, String",
    ),
    (
        "malformed type reference",
        "      name: String!\n      status",
        "      name: '[String'\n      status",
        "20:7 types.Item.fields.name: missing ']' in type '[String'",
    ),
    (
        "input type used as output",
        "response: {type: Item!}",
        "response: {type: ItemInput!}",
        "53:16 operations.addItem.response.type: 'ItemInput' is an input type; results and "
        "object fields need an object, union, enum or scalar",
    ),
    (
        "object type used as an argument",
        "args: {input: ItemInput!}",
        "args: {input: Item!}",
        "51:12 operations.addItem.args.input.type: 'Item' is an object type; arguments and "
        "input fields need an input type, enum or scalar",
    ),
    (
        "undeclared argument in a path",
        'path: "/items/{args.id}"',
        'path: "/items/{args.itemId}"',
        "42:15 operations.item.request.path: {args.itemId} names no argument of this "
        "operation (id)",
    ),
    (
        "undeclared config key",
        'key: "{config.token}"',
        'key: "{config.api_token}"',
        "10:25 source.auth.key: {config.api_token} names no declared config key (base_url, token)",
    ),
    (
        "unknown placeholder namespace",
        'query: {status: "{args.status}"}',
        'query: {status: "{arg.status}"}',
        "37:29 operations.items.request.query: unknown placeholder {arg.status} in "
        "'{arg.status}': it must start with one of args, config, env, key, keys, parent",
    ),
    (
        "env in a spec",
        'base_url: "{config.base_url}"',
        'base_url: "{env.SHOP_URL}"',
        "9:3 source.base_url: {env.SHOP_URL} is not available here (allowed: config); put "
        "{env.…} in connectql.yaml and read it here as {config.…}",
    ),
    (
        "resolve to a missing operation",
        "resolve: {operation: owner,",
        "resolve: {operation: person,",
        "25:19 types.Item.fields.owner.resolve.operation: resolve names operation 'person', "
        "which is not declared (addItem, item, items, owner)",
    ),
    (
        "resolve with an unknown argument",
        'args: {id: "{parent.owner.id}"}',
        'args: {ownerId: "{parent.owner.id}"}',
        "25:44 types.Item.fields.owner.resolve.args.ownerId: operation 'owner' has no argument "
        "'ownerId' (id)",
    ),
    (
        "batch match_on not a field",
        "match_on: id}",
        "match_on: ident}",
        "48:87 operations.owner.batch.match_on: 'ident' is not a field of Owner (id, name)",
    ),
    (
        "batch key not an argument",
        "batch: {key: id,",
        "batch: {key: ownerId,",
        "48:13 operations.owner.batch.key: batch key 'ownerId' is not an argument of this "
        "operation (id)",
    ),
    (
        "batch request mode without request",
        'request: {path: /owners, query: {ids: "{keys}"}}, ',
        "",
        "48:5 operations.owner.batch: batch mode 'request' needs request",
    ),
    (
        "duplicate operation",
        "  item:\n",
        "  items:\n",
        "40:3 operations.items: duplicate key 'items' (first at line 35)",
    ),
    (
        "enum values that collide",
        "values: [in-stock, sold-out]",
        "values: [in-stock, in_stock]",
        "15:24 types.Status.values[1]: 'in_stock' and 'in-stock' both become the GraphQL value "
        "IN_STOCK; map them explicitly",
    ),
    (
        "wrong value type",
        "page_size: 50}",
        "page_size: many}",
        "39:63 operations.items.pagination.page_size: input should be a valid integer, unable "
        "to parse string as an integer, got text",
    ),
    (
        "number out of range",
        "retry: {max_attempts: 3}",
        "retry: {max_attempts: 0}",
        "11:11 source.retry.max_attempts: input should be greater than or equal to 1",
    ),
    (
        "oauth2 without its secret",
        'auth: {type: api_key, key: "{config.token}", name: X-Key}',
        "auth: {type: oauth2, grant: client_credentials, token_url: /t, client_id: c}",
        "10:3 source.auth: grant 'client_credentials' needs client_secret",
    ),
    (
        "bad error status key",
        "  retry: {max_attempts: 3}\n",
        "  retry: {max_attempts: 3}\n  errors: {'40x': null}\n",
        "12:3 source.errors: error status key '40x' must look like 404, 4xx or default",
    ),
    (
        "bad from path",
        "from: owner.id}",
        "from: 'owner..id'}",
        "22:27 types.Item.fields.ownerId.from: ",
    ),
    (
        "generated type name taken",
        "  ItemInput:\n",
        "  ItemConnection: {fields: {id: ID}}\n  ItemInput:\n",
        "30:3 types.ItemConnection: type name 'ItemConnection' is taken by a generated type",
    ),
    (
        "quota usage pattern without its groups",
        "  retry: {max_attempts: 3}",
        "  retry: {max_attempts: 3}\n"
        '  quota_headers: {remaining: X-Usage, usage_pattern: "(\\\\d+)/(\\\\d+)"}',
        "12:39 source.quota_headers.usage_pattern: usage_pattern needs the groups",
    ),
    (
        "quota usage pattern that is no regular expression",
        "  retry: {max_attempts: 3}",
        "  retry: {max_attempts: 3}\n"
        '  quota_headers: {remaining: X-Usage, usage_pattern: "(?P<used>"}',
        "12:39 source.quota_headers.usage_pattern: usage_pattern is not a regular expression",
    ),
    (
        "control character",
        "  title: A shop",
        "  title: A \x16shop",
        "4:12: invalid YAML/JSON: character U+0016 is not allowed",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "expected"), [c[1:] for c in BROKEN], ids=[c[0] for c in BROKEN]
)
def test_broken_spec_is_reported_at_its_location(old: str, new: str, expected: str) -> None:
    assert old in BASE, f"the case's anchor text {old!r} is not in BASE"
    with pytest.raises(SpecErrors) as caught:
        load_spec_text(BASE.replace(old, new, 1), "shop.yaml")
    reported = [str(e) for e in caught.value.errors]
    assert any(r.startswith(f"shop.yaml:{expected}") for r in reported), reported


def broken(old: str, new: str, text: str = BASE) -> str:
    assert old in text, f"the case's anchor text {old!r} is not in the spec"
    return text.replace(old, new, 1)


BASE_JSON = json.dumps(yaml.safe_load(BASE), indent=2)


@pytest.fixture(params=["libyaml", "python"])
def composer(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both YAML parsers PyYAML may use: the locations must not depend on which."""
    chosen = yaml.CSafeLoader if request.param == "libyaml" else yaml.SafeLoader
    monkeypatch.setattr(loader, "COMPOSER", chosen)


@pytest.mark.usefixtures("composer")
@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        pytest.param(
            broken("  title: A shop", '  title: "A shop'),
            "4:10",
            "this quoted text runs on to line 9: is its closing quote missing?",
            id="quote-left-open-before-other-quotes",
        ),
        pytest.param(
            broken("response: {type: Item!}", 'response: {type: "Item!}'),
            "53:22",
            "found unexpected end of stream while scanning a quoted scalar",
            id="quote-left-open-to-the-end",
        ),
        pytest.param(
            broken("  retry: {max", "\tretry: {max"),
            "11:1",
            "it is a tab: YAML indents with spaces",
            id="tab-indent",
        ),
        pytest.param(
            broken("      name: String!\n      status", "      name: String!\n\t    status"),
            "21:1",
            "tab",
            id="tab-in-a-nested-mapping",
        ),
        pytest.param(
            broken("  title: A shop", " title: A shop"),
            "4:2",
            "while parsing a block mapping",
            id="indented-too-little",
        ),
        pytest.param(
            broken("  title: A shop", "     title: A shop"),
            "4:11",
            "mapping values are not allowed",
            id="indented-too-much",
        ),
        pytest.param(
            broken("  title: A shop", "  title A shop"),
            "4:3",
            "could not find expected ':'",
            id="key-without-colon",
        ),
        pytest.param(
            broken("values: [in-stock, sold-out]", "values: [in-stock, sold-out"),
            "15:13",
            "expected ',' or ']'",
            id="bracket-left-open",
        ),
        pytest.param(
            broken('body: "{args.input}"}', 'body: "{args.input}"'),
            "52:14",
            "expected ',' or '}'",
            id="brace-left-open-after-a-quoted-value",
        ),
        pytest.param(
            broken("  Owner:\n    fields:\n", "  Owner:\n    fields: [\n"),
            "27:13",
            "expected ',' or ']'",
            id="bracket-left-open-at-the-end-of-its-line",
        ),
        pytest.param(
            broken("values: [in-stock, sold-out]\n", "values: [\n"),
            "15:13",
            "while parsing a flow",
            id="bracket-opened-then-nothing",
        ),
        pytest.param(
            broken('"name": "shop",', '"name": "shop"', BASE_JSON),
            "4:13",
            "expected ',' or '}'",
            id="json-missing-comma",
        ),
    ],
)
def test_a_syntax_error_is_reported_at_the_mistake(text: str, where: str, words: str) -> None:
    with pytest.raises(SpecErrors) as caught:
        load_spec_text(text, "shop.yaml")
    [error] = caught.value.errors
    assert str(error).startswith(f"shop.yaml:{where}: invalid YAML/JSON: "), str(error)
    assert words in error.message


def test_structural_and_semantic_problems_are_reported_together_by_line() -> None:
    text = broken("strategy: link_header", "strategy: links")  # structural, line 39
    text = broken("response: {type: Item}\n", "response: {type: Itm}\n", text)  # semantic, 43
    text = broken("type: api_key", "type: apikey", text)  # structural, line 10
    text = broken("      status: Status\n", "      status: Statos\n", text)  # semantic, 21
    text = broken("      name: String\n", "      name: {type: String, form: x}\n", text)  # 29
    with pytest.raises(SpecErrors) as caught:
        load_spec_text(text, "shop.yaml")
    errors = caught.value.errors
    assert [f"{e.location.line} {e.location.path}" for e in errors] == [
        "10 source.auth.type",
        "21 types.Item.fields.status.type",
        "29 types.Owner.fields.name.form",
        "39 operations.items.pagination.strategy",
        "43 operations.item.response.type",
    ]
    assert "(declared types: Item, ItemInput, Owner, Status;" in errors[1].message


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [
        pytest.param(
            "  Owner:\n    fields:\n      id: ID!\n",
            "  Owner:\n    fields:\n      id: {type: ID!, form: x}\n",
            "types.Owner.fields.id.form",
            id="type",
        ),
        pytest.param(
            "token: {required: true, secret: true}",
            "token: {required: true, secret: maybe}",
            "config.token.secret",
            id="config-key",
        ),
        pytest.param(
            "batch: {key: id, mode: request,",
            "batch: {key: id, mode: requests,",
            "operations.owner.batch.mode",
            id="operation",
        ),
    ],
)
def test_a_broken_part_is_not_reported_again_where_it_is_named(
    old: str, new: str, path: str
) -> None:
    """Owner is named by Item.owner and the owner operation, {config.token} by the source, the
    owner operation by Item.owner's resolve: with the part broken, only its error is reported."""
    with pytest.raises(SpecErrors) as caught:
        load_spec_text(broken(old, new), "shop.yaml")
    assert [e.location.path for e in caught.value.errors] == [path]


def test_a_broken_required_section_leaves_the_rest_checked() -> None:
    text = broken("  name: shop\n", "  name: Shop\n")
    text = broken('  base_url: "{config', '  base_ur1: "{config', text)
    text = broken('path: "/items/{args.id}"', 'path: "/items/{config.id}"', text)
    with pytest.raises(SpecErrors) as caught:
        load_spec_text(text, "shop.yaml")
    assert [e.location.path for e in caught.value.errors] == [
        "connector.name",
        "source.base_url",
        "source.base_ur1",
        "operations.item.request.path",
    ]
    assert "{config.id} names no declared config key (base_url, token)" in str(caught.value)


def test_every_problem_is_reported_at_once() -> None:
    broken = (
        BASE.replace("strategy: link_header", "strategy: links")
        .replace("type: api_key", "type: apikey")
        .replace("  name: shop\n", "")
    )
    with pytest.raises(SpecErrors) as caught:
        load_spec_text(broken, "shop.yaml")
    paths = [e.location.path for e in caught.value.errors]
    assert paths == [
        "connector.name",
        "source.auth.type",
        "operations.items.pagination.strategy",
    ]


def test_a_secret_in_the_wrong_place_is_not_echoed() -> None:
    leaked = BASE.replace("page_size: 50}", "page_size: sk-live-abcdef123456}")
    with pytest.raises(SpecErrors) as caught:
        load_spec_text(leaked, "shop.yaml")
    assert "sk-live-abcdef123456" not in str(caught.value)


def test_unreadable_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(SpecErrors, match="cannot read the file"):
        load_spec(tmp_path / "missing.yaml")
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(SpecErrors, match=r"empty\.yaml:1:1: the spec is empty"):
        load_spec(empty)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("just text\n")
    with pytest.raises(SpecErrors, match="must be a mapping"):
        load_spec(scalar)
