"""A plain strawberry Federation v2 subgraph that extends entities connectql owns.

connectql serves `TrackerUser @key(fields: "login")` (the tracker connector's `User`) and
`ChatProfile @key(fields: "email")` (the chat connector's `Profile`), from two processes.
This subgraph adds reviews to them:

    type TrackerUser @key(fields: "login") { login: ID!  reviews: [Review!]! }
    type ChatProfile @key(fields: "email", resolvable: false) { email: String! }
    type Review { stars: Int!  text: String!  author: TrackerUser!  authorProfile: ChatProfile! }
    type Query { topReviewers(first: Int = 10): [TrackerUser!]! }

`topReviewers` and `author` return references only (a login); `authorProfile` references the
author's chat profile by email (`login@acme.test`). The key fields' types are the ones the
connector specs declare (tests/fakes/data/tracker.yaml: `login: ID!`; chat.yaml:
`email: String!`): composition refuses a key typed differently in two subgraphs.

    async with serving_reviews(ReviewsData.seeded()) as reviews:
        reviews.url, reviews.recorder.entity_calls
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import strawberry
from strawberry.federation.schema_directives import Key
from strawberry.federation.types import FieldSet

from tests.fakes.tracker import Person, TrackerData
from tests.federation.subgraph import Recorder, recording, serving_subgraph


@dataclass(frozen=True)
class Seeded:
    login: str
    stars: int
    text: str


@dataclass(frozen=True)
class ReviewsData:
    """Reviews per login; `domain` makes the chat profile's email (`login@domain`)."""

    reviews: tuple[Seeded, ...]
    domain: str = "acme.test"

    @classmethod
    def seeded(cls, people: Sequence[Person] | None = None) -> ReviewsData:
        """The tracker fake's authors (tests/fakes/tracker.py): the i-th of n writes n - i
        reviews, so reviewers rank in the people's order."""
        people = list(TrackerData().people() if people is None else people)
        reviews = tuple(
            Seeded(p.login, (i + j) % 5 + 1, f"Review {j + 1} by {p.login}")
            for i, p in enumerate(people)
            for j in range(len(people) - i)
        )
        domain = people[0].email.partition("@")[2] if people else "acme.test"
        return cls(reviews, domain)

    def of(self, login: str) -> list[Seeded]:
        return [r for r in self.reviews if r.login == login]

    def top_reviewers(self, first: int) -> list[str]:
        counts: dict[str, int] = {}
        for review in self.reviews:
            counts[review.login] = counts.get(review.login, 0) + 1
        ranked = sorted(counts, key=lambda login: (-counts[login], login))
        return ranked[: max(first, 0)]


@strawberry.federation.type(keys=[Key(fields=FieldSet("email"), resolvable=False)])
class ChatProfile:
    email: str


@strawberry.type
class Review:
    stars: int
    text: str
    login: strawberry.Private[str]
    domain: strawberry.Private[str]

    @strawberry.field
    def author(self) -> TrackerUser:
        return TrackerUser(login=strawberry.ID(self.login))

    @strawberry.field
    def author_profile(self) -> ChatProfile:
        return ChatProfile(email=f"{self.login}@{self.domain}")


@strawberry.federation.type(keys=["login"])
class TrackerUser:
    login: strawberry.ID

    @strawberry.field
    def reviews(self, info: strawberry.Info) -> list[Review]:
        data: ReviewsData = info.context["reviews"]
        return [
            Review(stars=r.stars, text=r.text, login=r.login, domain=data.domain)
            for r in data.of(self.login)
        ]

    @classmethod
    def resolve_reference(cls, login: strawberry.ID) -> TrackerUser:
        return cls(login=login)


@strawberry.type
class Query:
    @strawberry.field
    def top_reviewers(self, info: strawberry.Info, first: int | None = 10) -> list[TrackerUser]:
        data: ReviewsData = info.context["reviews"]
        logins = data.top_reviewers(10 if first is None else first)
        return [TrackerUser(login=strawberry.ID(login)) for login in logins]


def reviews_schema(recorder: Recorder) -> strawberry.federation.Schema:
    return strawberry.federation.Schema(query=Query, extensions=[recording(recorder)])


@dataclass(frozen=True)
class ReviewsSubgraph:
    url: str
    """Its GraphQL endpoint (…/graphql)."""
    data: ReviewsData
    recorder: Recorder = field(default_factory=Recorder)


@contextlib.asynccontextmanager
async def serving_reviews(
    data: ReviewsData | None = None, *, key: str | None = None
) -> AsyncIterator[ReviewsSubgraph]:
    """The reviews subgraph under uvicorn on 127.0.0.1:0 (with `key`, it wants
    `Authorization: Bearer KEY`, as connectql does)."""
    data = data or ReviewsData.seeded()
    recorder = Recorder()
    schema = reviews_schema(recorder)
    async with serving_subgraph(schema, key=key, context={"reviews": data}) as served:
        yield ReviewsSubgraph(served.url, data, recorder)
