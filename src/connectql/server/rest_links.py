"""REST routes for links (joins between connectors), beside /api/connectors: thin routes
over the control plane, answering as the connector routes do (409 with the diff when a
breaking change is refused, 422 with every problem of a link that does not fit)."""

# No `from __future__ import annotations`: FastAPI reads these signatures at run time, and
# the dependency aliases are handed in.
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from connectql.control.service import Change, ControlPlane
from connectql.graph.joins import Link


class LinkBody(BaseModel):
    type: str = Field(min_length=1, description="A connector's GraphQL type, e.g. TrackerUser.")
    field: str = Field(min_length=1, description="The new field's name.")
    connector: str = Field(min_length=1, description="The connector resolving it.")
    operation: str = Field(min_length=1, description="One of its query operations.")
    args: dict[str, Any] = Field({}, description="Values, or `{parent.FIELD}` templates.")
    description: str | None = None
    force: bool = False


class LinkView(BaseModel):
    type: str
    field: str
    connector: str
    operation: str
    args: dict[str, Any]
    description: str | None
    source: str
    state: str
    reason: str | None


class LinkSchemaChange(BaseModel):
    type: str
    description: str


class LinkChangeView(BaseModel):
    link_id: str = Field(description="TYPE.FIELD")
    applied: bool
    schema_version: int
    breaking_changes: list[LinkSchemaChange]
    dangerous_changes: list[LinkSchemaChange]
    link: LinkView | None


def install_links(
    app: FastAPI, control: ControlPlane, reader: Any, admin: Any, errors: Any
) -> None:
    """/api/links: `reader` and `admin` are the dependencies the connector routes use."""
    router = APIRouter(prefix="/api/links", tags=["links"], responses=errors)

    def views() -> list[LinkView]:
        return [
            LinkView(
                **status.link.model_dump(), source=source, state=status.state, reason=status.reason
            )
            for status, source in control.link_statuses()
        ]

    def changed(change: Change, key: tuple[str, str], status: int = 200) -> JSONResponse:
        found = next((v for v in views() if (v.type, v.field) == key), None)
        body = LinkChangeView(
            link_id=change.connector,
            applied=change.applied,
            schema_version=change.schema_version,
            breaking_changes=[LinkSchemaChange(**vars(c)) for c in change.breaking],
            dangerous_changes=[LinkSchemaChange(**vars(c)) for c in change.dangerous],
            link=found,
        )
        return JSONResponse(body.model_dump(), status_code=status if change.applied else 409)

    @router.get("", response_model=list[LinkView])
    async def list_links(_: reader) -> list[LinkView]:
        return views()

    @router.post("", status_code=201, response_model=LinkChangeView)
    async def create_link(body: LinkBody, _: admin) -> JSONResponse:
        link = Link(**body.model_dump(exclude={"force"}))
        change = await control.create_link(link, force=body.force)
        return changed(change, link.key, 201)

    @router.delete("/{type}/{field}", response_model=LinkChangeView)
    async def delete_link(type: str, field: str, _: admin, force: bool = False) -> JSONResponse:
        change = await control.delete_link(type, field, force=force)
        return changed(change, (type, field))

    app.include_router(router)
