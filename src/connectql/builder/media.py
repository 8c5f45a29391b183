"""Which OpenAPI media and schemas are files: for the importer's multipart request bodies
(file properties become `FileInput` arguments) and binary responses (`Binary` results)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MULTIPART_TYPE = "multipart/form-data"
BINARY_PREFIXES = ("audio/", "image/", "video/", "font/")
BINARY_TYPES = frozenset(
    {
        "application/octet-stream",
        "application/zip",
        "application/x-zip-compressed",
        "application/gzip",
        "application/x-gzip",
        "application/x-tar",
        "application/x-7z-compressed",
        "application/pdf",
        "application/msword",
        "application/vnd.ms-excel",
        "application/wasm",
    }
)
"""Media types of files besides audio/*, image/*, video/* and font/*; office documents
(`application/vnd.openxmlformats-…`) count too."""


def is_file_schema(schema: Mapping[str, Any]) -> bool:
    """A string schema holding a file's bytes: `format: binary` (3.0), or a 3.1
    `contentMediaType`/`contentEncoding` (how 3.1 describes file contents)."""
    kind = schema.get("type")
    strings = kind in (None, "string") or (isinstance(kind, list) and "string" in kind)
    return strings and (
        schema.get("format") == "binary"
        or "contentMediaType" in schema
        or "contentEncoding" in schema
    )


def is_binary_media(media: str, schema: Mapping[str, Any] | None) -> bool:
    """Whether a response of this media type (and schema) is a file, not data to parse."""
    kind = media.split(";")[0].strip().lower()
    if kind in BINARY_TYPES or kind.startswith(BINARY_PREFIXES):
        return True
    if kind.startswith("application/vnd.openxmlformats-"):
        return True
    return schema is not None and is_file_schema(schema)


def binary_media(content: Mapping[str, Any]) -> str | None:
    """The first media type of a response's `content` that is a file, or None."""
    for media, entry in content.items():
        schema = (entry or {}).get("schema") if isinstance(entry, Mapping) else None
        if is_binary_media(str(media), schema if isinstance(schema, Mapping) else None):
            return str(media)
    return None
