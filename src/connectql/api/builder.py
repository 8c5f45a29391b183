"""The builder's GraphQL API: templates to start a spec from; mutations that import an
OpenAPI document, infer types from samples, generate a client or docs. Each mutation has
`dryRun` (default true): a dry run changes nothing."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import strawberry
from strawberry.scalars import JSON

from connectql.api.control import (
    ConnectorChanged,
    Ctx,
    SpecProblem,
    _admin,
    _changed,
    _problems,
)
from connectql.errors import ControlError, SpecErrors


class BadInput(ControlError):
    """An argument that cannot be used as given."""

    code = "BAD_USER_INPUT"


@strawberry.type
class SkippedPart:
    where: str
    reason: str


@strawberry.type(description="An imported connector spec, and what could not be imported.")
class ImportOutcome:
    spec: str = strawberry.field(description="The connector spec, YAML.")
    operations: int
    types: int
    skipped: list[SkippedPart]
    collisions: list[str]
    pagination: JSON = strawberry.field(description="Operation → proposed strategy.")
    lock: JSON = strawberry.field(description="The naming lockfile: pass it to a re-import.")
    report: str
    connector: ConnectorChanged | None = strawberry.field(
        description="Without dryRun: the connector created (stopped until configured)."
    )
    errors: list[SpecProblem]


@strawberry.type
class FieldChangeView:
    type_name: str
    field: str
    change: str
    declared: str | None
    inferred: str | None
    reason: str


@strawberry.type
class InferOutcome:
    types: str = strawberry.field(description="The proposed `types:` section, YAML.")
    reasons: list[str]
    changes: list[FieldChangeView]
    connector: ConnectorChanged | None


@strawberry.type
class GeneratedFile:
    path: str
    content: str


@strawberry.type
class GeneratedOutput:
    files: list[GeneratedFile]
    written_to: str | None = strawberry.field(description="Without dryRun: the directory.")


async def _document_text(info: Ctx, source: str) -> str:
    """`source` is the document itself, or an http(s) URL fetched under the egress policy."""
    if not source.lstrip().startswith(("http://", "https://")):
        return source
    from connectql.builder.openapi import fetch_document

    return await fetch_document(source.strip(), _admin(info).egress)


async def import_openapi(
    info: Ctx,
    source: str,
    name: str | None = None,
    lock: JSON | None = None,
    dry_run: bool = True,
) -> ImportOutcome:
    from connectql.builder.openapi import import_openapi as run_import
    from connectql.builder.openapi import load_document

    control = _admin(info)
    document = load_document(await _document_text(info, source))
    names: dict[str, Any] = dict(lock) if isinstance(lock, dict) else {}
    result = run_import(document, name=name, lock={str(k): str(v) for k, v in names.items()})
    connector = None
    errors: list[SpecProblem] = []
    if not dry_run:
        try:
            change = await control.create(result.yaml(), "yaml", {}, start=False)
            connector = _changed(info, change)
        except SpecErrors as exc:
            errors = _problems(exc)
    return ImportOutcome(
        spec=result.yaml(),
        operations=result.report.operations,
        types=result.report.types,
        skipped=[SkippedPart(where=s.where, reason=s.reason) for s in result.report.skipped],
        collisions=[f"{w} ({k}) → {g}" for w, k, g in result.report.collisions],
        pagination=JSON(result.report.pagination),
        lock=JSON(result.lock),
        report=result.report.text(),
        connector=connector,
        errors=errors,
    )


async def infer_types(
    info: Ctx,
    samples: list[JSON],
    type_name: str,
    records: str | None = None,
    connector: str | None = None,
    dry_run: bool = True,
) -> InferOutcome:
    import yaml

    from connectql.builder.infer import diff_types, infer_report

    control = _admin(info)
    try:
        report = infer_report(list(samples), type_name, records)
    except ValueError as exc:
        raise ControlError(str(exc)) from None
    changes = []
    changed = None
    if connector is not None:
        stored = control.managed(connector)
        raw = yaml.safe_load(stored.spec_text)
        changes = diff_types(raw.get("types") or {}, report.types)
        if not dry_run and changes:
            raw["types"] = {**(raw.get("types") or {}), **report.types}
            text = yaml.safe_dump(raw, sort_keys=False, allow_unicode=True)
            changed = _changed(info, await control.update(connector, text, "yaml"))
    return InferOutcome(
        types=report.yaml(),
        reasons=[": ".join(part for part in reason if part) for reason in report.reasons],
        changes=[FieldChangeView(**asdict(c)) for c in changes],
        connector=changed,
    )


def _spec_of(info: Ctx, name: str) -> Any:
    control = _admin(info)
    connector = control.runtime.connectors.get(name)
    if connector is not None:
        return connector.spec
    spec = control.spec_of(control.managed(name))
    if spec is None:
        raise ControlError(f"connector {name!r} has no loadable spec")
    return spec


def _output(files: dict[str, str], info: Ctx, dry_run: bool, kind: str) -> GeneratedOutput:
    written = None
    if not dry_run:
        out_dir = _admin(info).output_dir
        if out_dir is None:
            raise ControlError("no builder output directory is configured (builder.output_dir)")
        target = Path(out_dir) / kind
        for relative, content in files.items():
            path = (target / relative).resolve()
            if not path.is_relative_to(target.resolve()):
                raise ControlError(f"refusing to write outside the output directory: {relative}")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
        written = str(target)
    return GeneratedOutput(
        files=[GeneratedFile(path=p, content=c) for p, c in sorted(files.items())],
        written_to=written,
    )


def generate_client(
    info: Ctx, connector: str, package: str | None = None, dry_run: bool = True
) -> GeneratedOutput:
    from connectql.builder.client import check_package_name
    from connectql.builder.client import generate_client as run

    if package is not None:
        try:
            check_package_name(package)
        except ValueError as exc:
            raise BadInput(str(exc)) from None
    return _output(run(_spec_of(info, connector), package), info, dry_run, "clients")


def generate_docs(info: Ctx, connector: str, dry_run: bool = True) -> GeneratedOutput:
    from connectql.builder.docs import generate_docs as run

    text = run(_spec_of(info, connector))
    return _output({f"{connector}.md": text}, info, dry_run, "docs")


@strawberry.type(description="A starting point for a new connector spec.")
class SpecTemplate:
    name: str
    description: str = strawberry.field(description="What it is for (its first comment).")


def spec_templates() -> list[SpecTemplate]:
    from connectql.builder.templates import template_description, template_names

    return [SpecTemplate(name=n, description=template_description(n)) for n in template_names()]


def spec_template(info: Ctx, template: str, connector: str) -> str:
    from connectql.builder.templates import new_spec

    _admin(info)
    return new_spec(connector, template)


@strawberry.type
class BuilderQuery:
    spec_templates = strawberry.field(
        resolver=spec_templates, description="The templates a new spec can start from."
    )
    spec_template = strawberry.field(
        resolver=spec_template,
        description="A template's spec (YAML) for a connector called `connector`. Admin only.",
    )


@strawberry.type
class BuilderMutation:
    import_open_api = strawberry.mutation(
        resolver=import_openapi,
        name="importOpenAPI",
        description="Import an OpenAPI 3.0/3.1 or Swagger 2 document (its text, or a URL "
        "fetched under the egress policy) as a connector spec; without dryRun, store it.",
    )
    infer_types = strawberry.mutation(
        resolver=infer_types,
        description="Propose types from sample responses and diff them with a connector's; "
        "without dryRun, write them into its spec (a new version).",
    )
    generate_client = strawberry.mutation(
        resolver=generate_client,
        description="A typed async Python client for a connector; without dryRun, written "
        "under builder.output_dir.",
    )
    generate_docs = strawberry.mutation(
        resolver=generate_docs,
        description="Markdown docs for a connector; without dryRun, written under "
        "builder.output_dir.",
    )
