"""The feed fake pages its events with Link headers and multi-gets people, and its spec
serves a union through connectql: type conditions pick posts and photos, and a page of
events asks for its authors in one call."""

from __future__ import annotations

from connectql.runtime import Runtime
from connectql.spec.loader import load_spec
from connectql.testing import FakeUpstream
from tests.fakes.feed import FEED_SPEC, create_feed_app
from tests.support import execute, serving

QUERY = """{ feed { events(first: 25) {
  nodes {
    __typename
    ... on FeedPost { title author { name } }
    ... on FeedPhoto { width author { name } }
  }
  pageInfo { hasNextPage } } } }"""


async def test_a_union_page_with_its_authors_in_one_batch() -> None:
    async with FakeUpstream(create_feed_app()) as feed:
        runtime = Runtime()
        runtime.add(load_spec(FEED_SPEC), {"base_url": feed.url})
        async with serving(runtime) as url:
            result = await execute(url, QUERY)
    assert result.errors is None
    events = result.data["feed"]["events"]
    assert events["pageInfo"] == {"hasNextPage": True}
    nodes = events["nodes"]
    assert len(nodes) == 25
    photo, post = nodes[:2]  # newest first: 60 is a photo, 59 a post
    assert photo == {"__typename": "FeedPhoto", "width": 700, "author": {"name": "Person 1"}}
    assert post == {"__typename": "FeedPost", "title": "Post 59", "author": {"name": "Person 6"}}
    assert [r.path for r in feed.requests] == ["/events", "/events", "/people"]  # 20 + 5, 1 batch
