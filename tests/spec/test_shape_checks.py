"""Checks of the shape controls: a linked field's declared type must agree with what its
operation gives, `connection: false` needs a paginated operation and a list, and a linked
field's own arguments are declared, typed and named by its templates."""

from __future__ import annotations

import pytest

from connectql.errors import SpecErrors
from connectql.spec.loader import load_spec_text

BASE = """\
spec_version: 1
connector: {name: tracker}
source: {base_url: "http://127.0.0.1:9"}
types:
  Org: {fields: {login: String!}}
  Issue: {fields: {number: Int!}}
  Filter: {kind: input, fields: {state: String}}
  User:
    fields:
      login: String!
      LINK
operations:
  issues:
    args: {owner: String!, state: String}
    request: {path: "/repos/{args.owner}/issues", query: {state: "{args.state}"}}
    response: {type: "[Issue!]!"}
    pagination: {strategy: page, page_size: 10}
  user:
    args: {login: String!, size: Int}
    request: {path: "/users/{args.login}", query: {size: "{args.size}"}}
    response: {type: User}
  users:
    args: {logins: "[String!]!"}
    request: {path: /users, query: {logins: "{args.logins}"}}
    response: {type: "[User]"}
"""


def spec_with(link: str) -> str:
    return BASE.replace("LINK", link)


def problems(link: str) -> list[str]:
    try:
        load_spec_text(spec_with(link), "tracker.yaml")
    except SpecErrors as exc:
        return [str(e) for e in exc.errors]
    return []


@pytest.mark.parametrize(
    "link",
    [
        pytest.param(
            'friend: {type: User!, resolve: {operation: user, args: {login: "{parent.f}"}}}',
            id="non-null-of-a-nullable-result",
        ),
        pytest.param(
            'friends: {type: "[User!]!", resolve: {operation: users, args: {logins: [a]}}}',
            id="list-of-a-list",
        ),
        pytest.param(
            'issues: {type: "[Issue]", '
            'resolve: {operation: issues, args: {owner: "{parent.login}"}}}',
            id="connection-of-items",
        ),
        pytest.param(
            'issues: {type: "[Issue!]!", resolve: {operation: issues, args: {owner: a}, '
            "connection: false}}",
            id="plain-list-of-items",
        ),
        pytest.param(
            "me: {type: User, args: {login: String!}, resolve: {operation: user}}",
            id="a-field-argument-passes-a-required-one-on",
        ),
        pytest.param(
            "avatar: {type: User, args: {px: {type: Int, default: 64}}, resolve: "
            '{operation: user, args: {login: "{parent.login}", size: "{args.px}"}}}',
            id="a-template-reads-a-field-argument",
        ),
        pytest.param(
            'issues: {type: "[Issue]", args: {first: {type: Int, default: 5}, mine: Filter}, '
            'resolve: {operation: issues, args: {owner: "{parent.login}"}, connection: false}}',
            id="first-on-a-plain-list",
        ),
    ],
)
def test_agreeing_shapes_are_valid(link: str) -> None:
    assert problems(link) == []


@pytest.mark.parametrize(
    ("link", "where", "words"),
    [
        pytest.param(
            'org: {type: Org, resolve: {operation: user, args: {login: "{parent.org}"}}}',
            "types.User.fields.org.type",
            "declared Org, but operation 'user' returns User (it returns User): declare User",
            id="another-type",
        ),
        pytest.param(
            'friends: {type: "[User]", resolve: {operation: user, args: {login: a}}}',
            "types.User.fields.friends.type",
            "returns User (it returns one item): declare User",
            id="a-list-for-one-item",
        ),
        pytest.param(
            "friend: {type: User, resolve: {operation: users, args: {logins: [a]}}}",
            "types.User.fields.friend.type",
            "returns [User] (it returns a list): declare [User]",
            id="one-item-for-a-list",
        ),
        pytest.param(
            "issue: {type: Issue, resolve: {operation: issues, args: {owner: a}}}",
            "types.User.fields.issue.type",
            "is paginated and gives a connection of Issue: declare [Issue]",
            id="one-item-for-a-connection",
        ),
        pytest.param(
            "issue: {type: Issue, resolve: {operation: issues, args: {owner: a}, "
            "connection: false}}",
            "types.User.fields.issue.type",
            "is paginated and gives a plain list of Issue: declare [Issue]",
            id="connection-false-declared-as-one-item",
        ),
        pytest.param(
            'orgs: {type: "[Org]", resolve: {operation: issues, args: {owner: a}}}',
            "types.User.fields.orgs.type",
            "gives a connection of Issue: declare [Issue]",
            id="a-connection-of-another-type",
        ),
        pytest.param(
            "me: {type: User, resolve: {operation: user, args: {login: a}, connection: false}}",
            "types.User.fields.me.resolve.connection",
            "operation 'user' is not paginated: `connection: false` is for links to paginated",
            id="connection-false-unpaginated",
        ),
        pytest.param(
            "nick: {type: String, args: {short: Boolean}}",
            "types.User.fields.nick.args",
            "only a linked field (with resolve) takes arguments",
            id="arguments-without-a-link",
        ),
        pytest.param(
            "me: {type: User, args: {px: Int}, "
            'resolve: {operation: user, args: {login: a, size: "{args.size}"}}}',
            "types.User.fields.me.resolve.args.size",
            "{args.size} names no argument of this field (px)",
            id="a-template-names-an-undeclared-argument",
        ),
        pytest.param(
            'me: {type: User, resolve: {operation: user, args: {login: "{args.login}"}}}',
            "types.User.fields.me.resolve.args.login",
            "{args.login} is not available here (allowed: config, parent)",
            id="args-in-a-link-without-arguments",
        ),
        pytest.param(
            "me: {type: User, args: {who: Org}, resolve: {operation: user, args: {login: a}}}",
            "types.User.fields.me.args.who.type",
            "'Org' is an object type; arguments and input fields need an input type",
            id="an-object-typed-argument",
        ),
        pytest.param(
            'me: {type: User, args: {px: {type: Int, default: "big"}}, '
            "resolve: {operation: user, args: {login: a}}}",
            "types.User.fields.me.args.px.default",
            "default 'big' cannot be a Int",
            id="a-default-that-does-not-fit",
        ),
        pytest.param(
            'issues: {type: "[Issue]", args: {after: String}, '
            "resolve: {operation: issues, args: {owner: a}}}",
            "types.User.fields.issues.args.after",
            "`after` is the connection's own cursor argument",
            id="after-on-a-connection",
        ),
        pytest.param(
            'issues: {type: "[Issue]", args: {first: String}, '
            "resolve: {operation: issues, args: {owner: a}, connection: false}}",
            "types.User.fields.issues.args.first.type",
            "`first` caps a paginated link's items: its type must be Int",
            id="first-not-an-int",
        ),
    ],
)
def test_contradicting_shapes_are_errors_at_their_place(link: str, where: str, words: str) -> None:
    found = problems(link)
    assert len(found) == 1, found
    line = spec_with(link).splitlines().index(f"      {link}") + 1
    assert found[0].startswith(f"tracker.yaml:{line}:"), found[0]
    assert f" {where}: " in found[0]
    assert words in found[0]
