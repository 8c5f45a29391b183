"""The builder over GraphQL: importOpenAPI, inferTypes, generateClient, generateDocs."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from connectql.connectors.egress import EgressPolicy
from connectql.demo.upstream import create_bookstore_app, make_catalogue
from connectql.testing import FakeUpstream
from tests.builder.test_openapi import KEY, PETSTORE, petstore_app
from tests.support import DEMO_KEY, bookstore_spec_text, control_server, execute

IMPORT = """
mutation($source: String!, $dry: Boolean!) {
  importOpenAPI(source: $source, dryRun: $dry) {
    operations types skipped { where reason } pagination spec
    connector { applied connector { name state } }
  }
}
"""


async def test_import_a_document_then_serve_it(tmp_path: Path) -> None:
    text = PETSTORE.read_text()
    async with control_server(tmp_path) as (url, control), FakeUpstream(petstore_app()) as pets:
        dry = await execute(url, IMPORT, {"source": text, "dry": True})
        assert dry.errors is None, dry.errors
        outcome = dry.data["importOpenAPI"]
        assert outcome["operations"] == 6  # uploadPhoto: multipart
        assert outcome["pagination"] == {"listPets": "offset"}
        assert {
            "where": "GET /pets parameter session",
            "reason": "cookie parameters are not supported",
        } in outcome["skipped"]
        assert outcome["connector"] is None
        assert control.stored == {}  # a dry run stores nothing

        stored = await execute(url, IMPORT, {"source": text, "dry": False})
        created = stored.data["importOpenAPI"]["connector"]
        assert created["connector"] == {"name": "petstore", "state": "STOPPED"}
        configured = await execute(
            url,
            'mutation($c: JSON!) { configureConnector(name: "petstore", config: $c) '
            "{ __typename } }",
            {"c": {"base_url": f"{pets.url}/v1", "api_key": KEY}},
        )
        assert configured.errors is None
        await execute(url, 'mutation { startConnector(name: "petstore") { __typename } }')
        answer = await execute(url, "{ petstore { getOwner(ownerId: 1) { name } } }")
        assert answer.data == {"petstore": {"getOwner": {"name": "Jo"}}}


async def test_import_from_a_url_obeys_the_egress_policy(tmp_path: Path) -> None:
    async def document(_: web.Request) -> web.Response:
        return web.Response(text=PETSTORE.read_text(), content_type="application/yaml")

    docs = web.Application()
    docs.router.add_get("/openapi.yaml", document)
    async with FakeUpstream(docs) as server, control_server(tmp_path) as (url, control):
        source = f"{server.url}/openapi.yaml"
        fetched = await execute(url, IMPORT, {"source": source, "dry": True})
        assert fetched.errors is None, fetched.errors
        assert fetched.data["importOpenAPI"]["operations"] == 6
        control.egress = EgressPolicy()  # 127.0.0.1 no longer allowlisted
        refused = await execute(url, IMPORT, {"source": source, "dry": True})
        assert refused.errors[0]["extensions"]["code"] == "FORBIDDEN"
        assert "127.0.0.1 is a loopback address" in refused.errors[0]["message"]
        metadata = await execute(
            url, IMPORT, {"source": "http://169.254.169.254/latest/openapi.json", "dry": True}
        )
        assert "cloud metadata address" in metadata.errors[0]["message"]


INFER = """
mutation($samples: [JSON!]!, $dry: Boolean!) {
  inferTypes(samples: $samples, typeName: "Book", records: "items", connector: "bookstore",
             dryRun: $dry) {
    types changes { typeName field change } connector { applied connector { registryVersion } }
  }
}
"""


async def test_infer_types_and_write_them(tmp_path: Path) -> None:
    books, _ = make_catalogue(n_books=6)
    samples = [{"items": list(books.values())}]
    async with (
        FakeUpstream(create_bookstore_app(DEMO_KEY)) as upstream,
        control_server(tmp_path) as (url, _),
    ):
        config = {"base_url": upstream.url, "api_key": DEMO_KEY}
        await execute(
            url,
            "mutation($s: String!, $c: JSON) { createConnector(spec: $s, config: $c) "
            "{ __typename } }",
            {"s": bookstore_spec_text(), "c": config},
        )
        dry = await execute(url, INFER, {"samples": samples, "dry": True})
        assert dry.errors is None, dry.errors
        outcome = dry.data["inferTypes"]
        assert "Book:" in outcome["types"]
        assert {"typeName": "Book", "field": "genre", "change": "type"} in outcome["changes"]
        assert outcome["connector"] is None
        written = await execute(url, INFER, {"samples": samples, "dry": False})
        assert written.errors is None, written.errors
        change = written.data["inferTypes"]["connector"]
        # genre becomes a String: a breaking change, refused without force
        assert change["applied"] is False


async def test_generate_docs_and_client(tmp_path: Path) -> None:
    async with (
        FakeUpstream(create_bookstore_app(DEMO_KEY)) as upstream,
        control_server(tmp_path) as (url, control),
    ):
        await execute(
            url,
            "mutation($s: String!, $c: JSON) { createConnector(spec: $s, config: $c) "
            "{ __typename } }",
            {"s": bookstore_spec_text(), "c": {"base_url": upstream.url, "api_key": DEMO_KEY}},
        )
        docs = await execute(
            url,
            'mutation { generateDocs(connector: "bookstore") '
            "{ files { path content } writtenTo } }",
        )
        files = docs.data["generateDocs"]["files"]
        assert files[0]["path"] == "bookstore.md"
        assert files[0]["content"].startswith("# ")
        assert DEMO_KEY not in files[0]["content"]
        client = await execute(
            url, 'mutation { generateClient(connector: "bookstore") { files { path } } }'
        )
        paths = {f["path"] for f in client.data["generateClient"]["files"]}
        assert any(p.endswith("client.py") for p in paths)
        nowhere = await execute(
            url, 'mutation { generateDocs(connector: "bookstore", dryRun: false) { writtenTo } }'
        )
        assert "no builder output directory" in nowhere.errors[0]["message"]
        control.output_dir = str(tmp_path / "out")
        written = await execute(
            url, 'mutation { generateDocs(connector: "bookstore", dryRun: false) { writtenTo } }'
        )
        assert written.data["generateDocs"]["writtenTo"] == str(tmp_path / "out" / "docs")
        assert (tmp_path / "out" / "docs" / "bookstore.md").exists()
