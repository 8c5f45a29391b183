"""A tiny strawberry subgraph standing in for connectql in the harness's own tests: it owns
`TrackerUser` (by login) and `ChatProfile` (by email), or either one, with the fields and
types connectql serves from the tracker and chat connector specs
(tests/fakes/data/{tracker,chat}.yaml), seeded from the same people as the fakes.

    type TrackerUser @key(fields: "login") { login: ID!  name: String  email: String }
    type ChatProfile @key(fields: "email") { email: String!  realName: String  title: String }
    type Query { trackerUser(login: ID!): TrackerUser  chatProfile(email: String!): ChatProfile }
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass, field

import strawberry
from strawberry.tools import merge_types

from tests.fakes.tracker import Person, TrackerData
from tests.federation.subgraph import Recorder, recording, serving_subgraph

OWNED = ("TrackerUser", "ChatProfile")


def _people(info: strawberry.Info) -> Sequence[Person]:
    people: Sequence[Person] = info.context["people"]
    return people


@strawberry.federation.type(keys=["login"])
class TrackerUser:
    login: strawberry.ID
    name: str | None
    email: str | None

    @classmethod
    def of(cls, person: Person) -> TrackerUser:
        return cls(login=strawberry.ID(person.login), name=person.name, email=person.email)

    @classmethod
    def resolve_reference(cls, info: strawberry.Info, login: strawberry.ID) -> TrackerUser | None:
        return next((cls.of(p) for p in _people(info) if p.login == login), None)


@strawberry.federation.type(keys=["email"])
class ChatProfile:
    email: str
    real_name: str | None
    title: str | None

    @classmethod
    def of(cls, person: Person) -> ChatProfile:
        return cls(email=person.email, real_name=person.name, title=person.title)

    @classmethod
    def resolve_reference(cls, info: strawberry.Info, email: str) -> ChatProfile | None:
        return next((cls.of(p) for p in _people(info) if p.email == email), None)


@strawberry.type
class TrackerQuery:
    @strawberry.field
    def tracker_user(self, info: strawberry.Info, login: strawberry.ID) -> TrackerUser | None:
        return TrackerUser.resolve_reference(info, login)


@strawberry.type
class ChatQuery:
    @strawberry.field
    def chat_profile(self, info: strawberry.Info, email: str) -> ChatProfile | None:
        return ChatProfile.resolve_reference(info, email)


QUERIES = {"TrackerUser": TrackerQuery, "ChatProfile": ChatQuery}


def standin_schema(owns: Collection[str], recorder: Recorder) -> strawberry.federation.Schema:
    unknown = set(owns) - set(OWNED)
    if unknown or not owns:
        raise ValueError(f"a stand-in owns some of {OWNED}, not {sorted(unknown)}")
    query = merge_types("Query", tuple(QUERIES[name] for name in OWNED if name in owns))
    return strawberry.federation.Schema(query=query, extensions=[recording(recorder)])


@dataclass(frozen=True)
class StandIn:
    url: str
    owns: tuple[str, ...]
    recorder: Recorder = field(default_factory=Recorder)


@contextlib.asynccontextmanager
async def serving_standin(
    owns: Collection[str] = OWNED,
    *,
    people: Sequence[Person] | None = None,
    key: str | None = None,
) -> AsyncIterator[StandIn]:
    """The stand-in under uvicorn on 127.0.0.1:0; with `key`, it wants
    `Authorization: Bearer KEY` (introspection included), as connectql does."""
    recorder = Recorder()
    schema = standin_schema(owns, recorder)
    context = {"people": list(TrackerData().people() if people is None else people)}
    async with serving_subgraph(schema, key=key, context=context) as served:
        yield StandIn(served.url, tuple(name for name in OWNED if name in owns), recorder)
