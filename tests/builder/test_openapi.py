"""OpenAPI import: a Petstore-style document, a FastAPI app's and GitHub's own description."""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from fastapi import FastAPI, Query
from pydantic import BaseModel, Field

from connectql.builder.openapi import import_openapi, load_document, read_lock
from connectql.runtime import Runtime
from connectql.spec.loader import load_spec_text
from connectql.testing import FakeUpstream
from connectql.testing.fakes.github import SPEC_FILE, GitHubState, create_github_app
from tests.support import execute, serving

DATA = Path(__file__).parent / "data"
PETSTORE = DATA / "petstore.yaml"
GITHUB_SUBSET = SPEC_FILE
KEY = "pet-key-0123456789"


def petstore_app() -> web.Application:
    pets: dict[int, dict[str, Any]] = {
        i: {
            "id": i,
            "name": f"Pet {i}",
            "petType": "cat" if i % 2 else "dog",
            "status": "sold-out" if i % 3 == 0 else "available",
            "tag": None,
            "owner_id": i % 4,
            "birth-date": "2020-01-01",
            **({"indoor": True} if i % 2 else {"good_boy": True}),
        }
        for i in range(1, 76)
    }

    @web.middleware
    async def auth(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.headers.get("X-Api-Key") != KEY:
            return web.json_response({"message": "unauthorised"}, status=401)
        return await handler(request)

    async def list_pets(request: web.Request) -> web.Response:
        limit = min(int(request.query.get("limit", "20")), 50)
        offset = int(request.query.get("offset", "0"))
        status = request.query.get("status")
        chosen = [p for p in pets.values() if status in (None, p["status"])]
        return web.json_response(chosen[offset : offset + limit])

    async def show(request: web.Request) -> web.Response:
        pet = pets.get(int(request.match_info["id"]))
        if pet is None:
            return web.json_response({"message": "no such pet"}, status=404)
        return web.json_response(pet)

    async def create(request: web.Request) -> web.Response:
        body = await request.json()
        pet = {"id": len(pets) + 1, "status": "available", "tag": body.get("tag"), **body}
        pets[pet["id"]] = pet
        return web.json_response(pet, status=201)

    async def owner(request: web.Request) -> web.Response:
        return web.json_response(
            {"id": int(request.match_info["id"]), "name": "Jo", "address": {"city": "Oslo"}}
        )

    app = web.Application(middlewares=[auth])
    app.router.add_get("/v1/pets", list_pets)
    app.router.add_post("/v1/pets", create)
    app.router.add_get("/v1/pets/{id}", show)
    app.router.add_get("/v1/owners/{id}", owner)
    return app


def test_petstore_imports_with_a_report() -> None:
    result = import_openapi(load_document(PETSTORE.read_text()))
    spec = load_spec_text(result.yaml(), "petstore.yaml")  # the output always loads
    assert spec.name == "petstore"
    assert sorted(spec.operations) == [
        "createPet",
        "deletePet",
        "getOwner",
        "listPets",
        "showPetById",
        "uploadPhoto",
    ]
    assert spec.operations["listPets"].kind == "query"
    assert spec.operations["createPet"].kind == "mutation"
    assert result.spec["source"]["auth"] == {
        "type": "api_key",
        "key": "{config.api_key}",
        "name": "X-Api-Key",
        "in": "header",
    }
    assert result.spec["types"]["Pet"]["kind"] == "union"
    assert result.spec["types"]["Pet"]["discriminator"] == {
        "field": "petType",
        "mapping": {"cat": "Cat", "dog": "Dog"},
    }
    assert result.spec["types"]["Cat"]["fields"]["ownerId"] == {"type": "Long", "from": "owner_id"}
    assert result.spec["types"]["Status"] == {
        "kind": "enum",
        "values": ["available", "pending", "sold-out"],
    }
    assert result.report.pagination == {"listPets": "offset"}
    skipped = {s.where: s.reason for s in result.report.skipped}
    assert "external reference" in skipped["GET /external"]
    assert "cookie" in skipped["GET /pets parameter session"]
    assert result.spec["operations"]["uploadPhoto"]["args"]["file"] == "FileInput"  # multipart
    assert result.spec["types"]["OwnerAddress"]["fields"]["zipCode"] == {
        "type": "String",
        "from": '["zip code"]',  # kept, its key quoted in the path
    }


async def test_the_imported_petstore_serves_queries() -> None:
    result = import_openapi(load_document(PETSTORE.read_text()))
    async with FakeUpstream(petstore_app()) as fake:
        runtime = Runtime()
        runtime.add(
            load_spec_text(result.yaml(), "petstore.yaml"),
            {"base_url": f"{fake.url}/v1", "api_key": KEY},
        )
        async with serving(runtime) as url:
            listed = await execute(
                url,
                "{ petstore { listPets(status: AVAILABLE, first: 40) { nodes { "
                "... on PetstoreCat { name indoor } ... on PetstoreDog { name goodBoy } } } } }",
            )
            one = await execute(
                url, "{ petstore { showPetById(petId: 3) { ... on PetstoreCat { id status } } } }"
            )
            created = await execute(
                url,
                'mutation { petstore { createPet(input: {name: "Rex", petType: DOG}) '
                "{ ... on PetstoreDog { id name } } } }",
            )
            owner = await execute(
                url, "{ petstore { getOwner(ownerId: 2) { name address { city } } } }"
            )
    assert listed.errors is None, listed.errors
    nodes = listed.data["petstore"]["listPets"]["nodes"]
    assert len(nodes) == 40
    assert nodes[0] == {"name": "Pet 1", "indoor": True}
    assert fake.count("GET", "/v1/pets") == 1  # limit: 40 of at most 50 per page
    assert one.data == {"petstore": {"showPetById": {"id": 3, "status": "SOLD_OUT"}}}
    assert created.data["petstore"]["createPet"]["name"] == "Rex"
    assert owner.data == {"petstore": {"getOwner": {"name": "Jo", "address": {"city": "Oslo"}}}}


def test_swagger_2_and_openapi_3_1() -> None:
    swagger = {
        "swagger": "2.0",
        "info": {"title": "Old API", "version": "1"},
        "host": "old.example.com",
        "basePath": "/api",
        "securityDefinitions": {"basic": {"type": "basic"}},
        "definitions": {"Item": {"type": "object", "properties": {"id": {"type": "string"}}}},
        "paths": {
            "/items/{id}": {
                "get": {
                    "operationId": "getItem",
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "type": "string"}
                    ],
                    "responses": {
                        "200": {"description": "ok", "schema": {"$ref": "#/definitions/Item"}}
                    },
                }
            },
            "/items": {
                "post": {
                    "operationId": "addItem",
                    "parameters": [
                        {
                            "name": "item",
                            "in": "body",
                            "required": True,
                            "schema": {"$ref": "#/definitions/Item"},
                        }
                    ],
                    "responses": {
                        "201": {"description": "ok", "schema": {"$ref": "#/definitions/Item"}}
                    },
                }
            },
        },
    }
    old = import_openapi(swagger)
    assert old.spec["config"]["base_url"]["default"] == "https://old.example.com/api"
    assert old.spec["source"]["auth"]["type"] == "basic"
    assert old.spec["operations"]["addItem"]["args"] == {"input": "ItemInput!"}
    load_spec_text(old.yaml(), "old.yaml")

    modern = {
        "openapi": "3.1.0",
        "info": {"title": "New API", "version": "2"},
        "servers": [
            {"url": "https://{region}.example.com", "variables": {"region": {"default": "eu"}}}
        ],
        "paths": {
            "/things": {
                "get": {
                    "operationId": "things",
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": ["id", "note"],
                                            "properties": {
                                                "id": {"type": "integer"},
                                                "note": {"type": ["string", "null"]},
                                            },
                                        },
                                    }
                                }
                            },
                        }
                    },
                }
            }
        },
    }
    new = import_openapi(modern)
    assert new.spec["config"]["base_url"]["default"] == "https://eu.example.com"
    assert new.spec["types"]["ThingsResultItem"]["fields"] == {"id": "Long!", "note": "String"}


class Address(BaseModel):
    city: str
    zip: str | None = None


class Item(BaseModel):
    id: int
    name: str
    nickname: str | None = Field(None, description="What friends call it")
    price: float | None  # required, yet may be null
    tags: list[str] | None = None
    address: Address | None = None
    notes: list[str | None] = []


class ItemPage(BaseModel):
    items: list[Item]
    next_cursor: str | None = None


class NewItem(BaseModel):
    name: str
    address: Address | None = None


def fastapi_app() -> FastAPI:
    """Every Optional a FastAPI app has: fields, query parameters, a body, a response."""
    app = FastAPI(title="Shop API")

    @app.get("/items", operation_id="items")
    def items(
        q: str | None = None, limit: int | None = Query(None, le=100), cursor: str | None = None
    ) -> ItemPage:
        raise NotImplementedError

    @app.get("/items/{item_id}", operation_id="item")
    def item(item_id: int) -> Item | None:
        raise NotImplementedError

    @app.post("/items", operation_id="createItem")
    def create_item(new: NewItem | None = None) -> Item:
        raise NotImplementedError

    return app


def test_fastapis_optionals_import_as_nullable_types() -> None:
    doc = fastapi_app().openapi()
    assert doc["openapi"].startswith("3.1")
    result = import_openapi(doc)
    load_spec_text(result.yaml(), "shop.yaml")
    types, ops = result.spec["types"], result.spec["operations"]
    assert types["Item"]["fields"] == {
        "id": "Long!",  # ids outgrow 32 bits
        "name": "String!",
        "nickname": {"type": "String", "description": "What friends call it"},
        "price": "Float",
        "tags": "[String!]",
        "address": "Address",
        "notes": "[String]",
    }
    assert types["NewItemInput"]["fields"] == {"name": "String!", "address": "AddressInput"}
    assert ops["items"]["args"] == {"q": "String"}  # limit and cursor drive pagination
    assert ops["items"]["pagination"]["page_size"] == 100  # the Optional's maximum
    assert ops["items"]["response"] == {"type": "[Item!]", "records": "items"}
    assert ops["item"]["response"] == {"type": "Item"}
    assert ops["createItem"]["args"] == {"input": "NewItemInput"}
    assert result.spec["connector"]["name"] == "shop"


def nullable_forms() -> list[Any]:
    ref = {"$ref": "#/components/schemas/Tag"}
    null = {"type": "null"}
    other = {"$ref": "#/components/schemas/Label"}
    return [
        pytest.param({"type": "string"}, "String!", id="not-nullable"),
        pytest.param({"anyOf": [{"type": "string"}, null]}, "String", id="anyOf-null"),
        pytest.param({"oneOf": [null, {"type": "integer"}]}, "Int", id="oneOf-null"),
        pytest.param({"type": ["boolean", "null"]}, "Boolean", id="type-list"),
        pytest.param({"type": "number", "nullable": True}, "Float", id="openapi-3.0-nullable"),
        pytest.param({"anyOf": [ref, null]}, "Tag", id="ref-or-null"),
        pytest.param({"type": "array", "items": {"anyOf": [ref, null]}}, "[Tag]!", id="items"),
        pytest.param(
            {"oneOf": [ref, other, null], "discriminator": {"propertyName": "kind"}},
            "ThingResultValue",  # the union of Tag and Label
            id="union-or-null",
        ),
    ]


@pytest.mark.parametrize(("schema", "expected"), nullable_forms())
def test_a_schema_that_allows_null_is_a_nullable_field(schema: Any, expected: str) -> None:
    tagged = {
        "type": "object",
        "required": ["kind"],
        "properties": {"kind": {"type": "string"}, "name": {"type": "string"}},
    }
    doc = {
        "openapi": "3.1.0",
        "info": {"title": "Tags", "version": "1"},
        "components": {"schemas": {"Tag": tagged, "Label": tagged}},
        "paths": {
            "/thing": {
                "get": {
                    "operationId": "thing",
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["value"],
                                        "properties": {"value": schema},
                                    }
                                }
                            },
                        }
                    },
                }
            }
        },
    }
    result = import_openapi(doc)
    load_spec_text(result.yaml(), "tags.yaml")
    assert result.spec["types"]["ThingResult"]["fields"]["value"] == expected
    assert not result.report.skipped


@pytest.mark.parametrize(
    ("document", "name"),
    [
        pytest.param(PETSTORE, "petstore", id="petstore"),
        pytest.param(GITHUB_SUBSET, "github", id="github-subset"),
    ],
)
def test_the_connector_name_is_short(document: Path, name: str) -> None:
    result = import_openapi(load_document(document.read_text()))
    assert result.spec["connector"]["name"] == name


def test_a_reimport_keeps_every_name_with_the_lockfile() -> None:
    doc = load_document(PETSTORE.read_text())
    first = import_openapi(doc)
    lock = read_lock(first.lock_json())
    changed = json.loads(json.dumps(doc))
    # a new schema arrives whose name would now win "Owner" on a fresh import
    changed["components"]["schemas"]["Owner"]["title"] = "Owner"
    changed["paths"]["/owners/{ownerId}"]["get"]["operationId"] = "get-owner"
    changed["info"]["title"] = "Pet Shop"  # would be named `pet` on a fresh import
    again = import_openapi(changed, lock=lock)
    assert again.spec["connector"]["name"] == "petstore"
    assert again.spec["operations"].keys() == first.spec["operations"].keys()
    assert again.spec["types"].keys() == first.spec["types"].keys()
    assert again.lock == first.lock


async def test_githubs_own_description_serves_against_the_github_fake() -> None:
    result = import_openapi(json.loads(GITHUB_SUBSET.read_text()), name="gh")
    result.spec["config"]["token"] = {"required": True, "secret": True}
    result.spec["source"]["auth"] = {"type": "bearer", "token": "{config.token}"}
    spec = load_spec_text(result.yaml(), "gh.yaml")
    state = GitHubState.seeded(tokens={"ghp_import_0123456789"})
    async with FakeUpstream(create_github_app(state)) as fake:
        runtime = Runtime()
        runtime.add(spec, {"base_url": fake.url, "token": "ghp_import_0123456789"})
        async with serving(runtime) as url:
            repo = await execute(
                url, '{ gh { reposGet(owner: "octo-org", repo: "hello") { fullName } } }'
            )
            issues = await execute(
                url,
                '{ gh { issuesListForRepo(owner: "octo-org", repo: "hello", state: ALL, '
                "first: 120) { nodes { number title } pageInfo { hasNextPage } } } }",
            )
    assert repo.errors is None, repo.errors
    assert repo.data == {"gh": {"reposGet": {"fullName": "octo-org/hello"}}}
    assert issues.errors is None, issues.errors
    assert len(issues.data["gh"]["issuesListForRepo"]["nodes"]) == 120
    assert fake.count("GET", "/repos/octo-org/hello/issues") == 4  # Link pagination, 30 a page


OCTOKIT = "@octokit/openapi@23.0.2"


def full_github_description(cache: Path) -> Path:
    target = cache / "api.github.com.json"
    if target.exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    try:
        out = subprocess.run(
            ["npm", "pack", OCTOKIT, "--silent"],
            cwd=cache,
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        if os.environ.get("CONNECTQL_REQUIRE_SERVICES") == "1":
            raise
        pytest.skip(f"npm could not fetch {OCTOKIT}: {exc}")
    with tarfile.open(cache / out.stdout.strip().splitlines()[-1]) as tar:
        member = tar.getmember("package/generated/api.github.com.json")
        extracted = tar.extractfile(member)
        assert extracted is not None
        target.write_bytes(extracted.read())
    return target


def test_the_full_github_description_imports_with_a_skip_report() -> None:
    cache = Path(os.environ.get("CONNECTQL_CACHE", Path.home() / ".cache" / "connectql-tests"))
    doc = json.loads(full_github_description(cache).read_text())
    result = import_openapi(doc)
    spec = load_spec_text(result.yaml(), "github.yaml")
    assert len(spec.operations) > 1100
    assert result.report.skipped  # every skip has its reason
    assert all(s.reason for s in result.report.skipped)
    text = result.report.text()
    assert text.startswith(f"imported {len(spec.operations)} operations")
    assert yaml.safe_load(result.yaml())["connector"]["name"] == "github"  # from the title
