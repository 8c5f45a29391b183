"""The record selector: a response decoded, its records selected, filtered and fitted to the
operation's declared result (a list, a single object, or a batch's items in key order)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from connectql.connectors.codecs import decode_body
from connectql.connectors.files import BinaryBody, filename_from_disposition
from connectql.connectors.http import HttpResponse
from connectql.connectors.metrics import ConnectorMetrics
from connectql.errors import ConnectorError
from connectql.spec.models import ConnectorSpec, ObjectType, Operation
from connectql.spec.paths import Path, parse_path
from connectql.spec.typeref import BINARY, parse_type_ref

NO_BODY_STATUSES = frozenset({204, 205, 304})


@lru_cache(maxsize=4096)
def compiled_path(text: str) -> Path:
    """`parse_path`, once per distinct path: specs name the same few on every call."""
    return parse_path(text)


class RecordSelector:
    def __init__(self, spec: ConnectorSpec, metrics: ConnectorMetrics) -> None:
        self.spec = spec
        self.name = spec.name
        self.metrics = metrics

    def decode(self, op_name: str, op: Operation, response: HttpResponse) -> Any:
        """The parsed body (None for an empty one); a Binary result's bytes as they came."""
        if response.status in NO_BODY_STATUSES:
            return op.response.empty if 200 <= response.status < 300 else None
        if op.response.type.strip().rstrip("! ") == BINARY:  # bytes as they came, size-bounded
            disposition = response.headers.get("Content-Disposition", "")
            return BinaryBody(
                response.body, response.content_type, filename_from_disposition(disposition)
            )
        if not response.body:
            return None
        try:
            return decode_body(response.body, response.content_type, op.response.format)
        except ConnectorError as exc:
            exc.connector, exc.operation, exc.status = self.name, op_name, response.status
            self.metrics.errors[exc.code] += 1
            raise

    def with_headers(self, op: Operation, response: HttpResponse, body: Any) -> Any:
        """A single result with the values `response.headers` reads from response headers."""
        if not op.response.headers or not isinstance(body, (dict, type(None))):
            return body
        read = {k: response.headers.get(h) for k, h in op.response.headers.items()}
        return {**(body or {}), **{k: v for k, v in read.items() if v is not None}}

    def shape(self, op: Operation, body: Any) -> Any:
        """Select records and fit them to the declared response type (list or single)."""
        if parse_type_ref(op.response.type).is_list or op.is_paginated:
            return self.records(op, body)
        value = compiled_path(op.response.records or ".").get(body)
        if isinstance(value, list) and op.response.filter:
            value = self.filter(op, value)
            return value[0] if value else None
        return value

    def records(self, op: Operation, body: Any) -> list[Any]:
        return self.filter(op, self.selected(op, body))

    def selected(self, op: Operation, body: Any) -> list[Any]:
        """The records at `response.records`, before any filter."""
        value = compiled_path(op.response.records or ".").get(body)
        if value is None:
            return []
        return value if isinstance(value, list) else [value]

    def filter(self, op: Operation, records: Iterable[Any]) -> list[Any]:
        if not op.response.filter:
            return list(records)
        tests = [(compiled_path(p), v) for p, v in op.response.filter.items()]
        return [r for r in records if all(path.get(r) == want for path, want in tests)]

    def batch_items(self, op: Operation, keys: Sequence[Any], body: Any) -> list[Any]:
        """A batch answer's items in `keys` order, None for a key the upstream left out."""
        batch = op.batch
        assert batch is not None
        records = compiled_path(batch.records or ".").get(body)
        if not isinstance(records, list):
            records = [] if records is None else [records]
        if batch.match_on is None:  # the upstream answers in request order
            return [records[i] if i < len(records) else None for i in range(len(keys))]
        match_path = self._match_path(op, batch.match_on)
        found = {str(match_path.get(r)): r for r in records}
        return [found.get(str(k)) for k in keys]

    def _match_path(self, op: Operation, field: str) -> Path:
        type_spec = self.spec.types.get(parse_type_ref(op.response.type).base)
        if isinstance(type_spec, ObjectType) and field in type_spec.fields:
            return compiled_path(type_spec.fields[field].from_ or field)
        return compiled_path(field)
