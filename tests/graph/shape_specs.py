"""Specs of the shape-control tests: the tracker fake's API mounted at the roots, with a
hidden lookup, a plain-list link with its own arguments and a root mutation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from connectql.runtime import Runtime
from connectql.spec.loader import load_spec
from connectql.spec.models import ConnectorSpec
from tests.fakes.tracker import TRACKER_TOKEN

ROOT_TRACKER = """\
spec_version: 1
connector: {name: tracker, namespace: false}
config:
  base_url: {required: true}
  token: {required: true, secret: true}
source:
  base_url: "{config.base_url}"
  auth: {type: bearer, token: "{config.token}"}
types:
  IssueState: {kind: enum, values: [open, closed]}
  IssueStateFilter: {kind: enum, values: [open, closed, all]}
  LoginList: {kind: input, fields: {logins: "[String!]!"}}
  Issue:
    fields:
      number: Int!
      title: String!
      state: IssueState
      author:
        type: User
        resolve: {operation: user, args: {login: "{parent.user.login}"}}
  User:
    fields:
      login: ID!
      name: String
      issues:
        type: "[Issue!]"
        args: {state: {type: IssueStateFilter, default: open}}
        resolve:
          operation: issues
          args: {owner: acme, repo: widgets, state: "{args.state}"}
          connection: false
operations:
  issues:
    args:
      owner: String!
      repo: String!
      state: {type: IssueStateFilter, default: all}
    request:
      path: "/repos/{args.owner}/{args.repo}/issues"
      query: {state: "{args.state}"}
    response: {type: "[Issue!]!"}
    pagination: {strategy: link_header, size_param: per_page, page_size: 4, max_items: 20}
  user:
    expose: false
    args: {login: String!}
    request: {path: "/users/{args.login}"}
    response: {type: User}
    errors: {"404": null}
    batch:
      key: login
      mode: request
      request: {path: /users, query: {logins: "{keys}"}}
      match_on: login
  usersIn:
    expose: false
    args: {list: LoginList!}
    request: {path: /users, query: {logins: "{args.list.logins}"}}
    response: {type: "[User]"}
  lockIssue:
    kind: mutation
    args: {number: Int!}
    request: {method: PUT, path: "/repos/acme/widgets/issues/{args.number}/lock"}
    response: {type: JSON}
    errors: {"404": null}
"""


def write(tmp_path: Path, text: str, name: str = "tracker.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def load(tmp_path: Path, text: str, name: str = "tracker.yaml") -> ConnectorSpec:
    return load_spec(write(tmp_path, text, name))


def tracker_config(url: str) -> dict[str, Any]:
    return {"base_url": url, "token": TRACKER_TOKEN}


def runtime_with(*specs: tuple[ConnectorSpec, dict[str, Any]], **kw: Any) -> Runtime:
    runtime = Runtime(**kw)
    runtime.set_connectors(specs)
    return runtime
