"""map_record and shape: records read with the spec's `from` paths."""

from __future__ import annotations

import pytest

from connectql import SpecError, load_spec_text, map_record
from connectql.spec.mapping import shape

RECORD = {
    "number": 7,
    "user": {"login": "octo"},
    "labels": [{"name": "bug"}, {"name": "ui"}],
}


def test_paths_reach_into_the_record() -> None:
    mapping = {"id": "number", "author": "user.login", "labels": "labels[*].name"}
    assert map_record(RECORD, mapping) == {"id": 7, "author": "octo", "labels": ["bug", "ui"]}
    assert map_record(RECORD, {"first": "labels[0].name", "gone": "user.name"}) == {
        "first": "bug",
        "gone": None,
    }


@pytest.mark.parametrize(
    ("path", "says"),
    [
        pytest.param("user..login", "expected a key at position 6", id="empty-key"),
        pytest.param("labels[x]", 'expected [N], [*] or ["key"]', id="bad-index"),
        pytest.param(3, "the path must be a string, got int", id="not-a-string"),
    ],
)
def test_a_bad_path_names_its_field(path: object, says: str) -> None:
    with pytest.raises(SpecError) as caught:
        map_record(RECORD, {"id": "number", "author": path})  # type: ignore[dict-item]
    assert caught.value.location.path == "author"
    assert says in str(caught.value)


SPEC = load_spec_text(
    """
spec_version: 1
connector: {name: events}
source: {base_url: "https://x.io"}
types:
  Issue:
    fields:
      number: Int!
      author: {type: String, from: user.login}
      labels: {type: "[String!]", from: "labels[*].name"}
      more: {type: "[Event!]!", resolve: {operation: event, args: {id: "{parent.number}"}}}
  Push:
    fields: {ref: String}
  Event:
    kind: union
    types: [Issue, Push]
    discriminator: {field: kind, mapping: {issue: Issue, push: Push}}
operations:
  event:
    args: {id: ID!}
    request: {path: "/events/{args.id}"}
    response: {type: "[Event!]!"}
""",
    "events.yaml",
)


def test_shape_follows_the_types_unions_included() -> None:
    events = [{"kind": "issue", **RECORD}, {"kind": "push", "ref": "main", "extra": 1}]
    assert shape(SPEC, "[Event!]!", events) == [
        {"number": 7, "author": "octo", "labels": ["bug", "ui"]},  # `more` links: left out
        {"ref": "main"},
    ]
    assert shape(SPEC, "Issue", None) is None
