"""Files in both directions: parts of multipart request bodies, and binary response bodies.

`encode_multipart` writes `multipart/form-data` (RFC 7578) itself, into bytes: a request body
stays bytes, so retries resend it, `--record` keeps it and traces see its size. Values follow
OpenAPI's defaults for multipart parts: a `FilePart` (or raw bytes) is a file, a string or
number a text field, a list repeats its field, a mapping is one `application/json` part.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import unquote

import orjson

OCTET_STREAM = "application/octet-stream"
_ESCAPES = {'"': "%22", "\r": "%0D", "\n": "%0A"}
"""How browsers escape a name or filename in Content-Disposition (WHATWG HTML, form data)."""
_TCHARS = r"[\w!#$&^.+-]+"
_MEDIA_TYPE = re.compile(
    rf'{_TCHARS}/{_TCHARS}(\s*;\s*{_TCHARS}=("[^"\r\n\\]*"|[^;\s"]+))*', re.ASCII
)
_DISPOSITION_FILENAME = re.compile(
    r"""filename\*\s*=\s*(?P<charset>[\w-]+)'[^']*'(?P<encoded>[^;\s]+)"""
    r"""|filename\s*=\s*(?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<token>[^;\s]+))""",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class FilePart:
    """A file to send as one part of a multipart body."""

    filename: str
    content_type: str
    data: bytes


class BinaryBody:
    """A response body kept as bytes (audio, an image, an archive), with what the upstream
    said about it. The SHA-256 is computed once, when first asked for."""

    def __init__(self, data: bytes, content_type: str, filename: str | None = None) -> None:
        self.data = data
        self.content_type = content_type or OCTET_STREAM
        self.filename = filename

    @property
    def size(self) -> int:
        return len(self.data)

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def __repr__(self) -> str:
        return f"BinaryBody({self.content_type!r}, {self.size} bytes)"


def filename_from_disposition(header: str) -> str | None:
    """The file name a Content-Disposition header gives (`filename*` wins), without any
    directory part; None if it gives none."""
    found: str | None = None
    for match in _DISPOSITION_FILENAME.finditer(header or ""):
        if match["encoded"] is not None:
            charset = match["charset"].lower()
            found = unquote(match["encoded"], "utf-8" if charset == "utf-8" else "latin-1")
            break
        if found is None:
            raw = match["quoted"] if match["quoted"] is not None else match["token"]
            found = re.sub(r"\\(.)", r"\1", raw)
    if found is None:
        return None
    name = found.replace("\\", "/").rsplit("/", 1)[-1].strip()
    return name or None


def encode_multipart(value: Any, boundary: str | None = None) -> tuple[bytes, str]:
    """A mapping as `multipart/form-data`; return the bytes and their Content-Type."""
    if not isinstance(value, Mapping):
        raise ValueError("a multipart body must be a mapping of field names to values")
    boundary = boundary or f"connectql-{secrets.token_hex(16)}"
    out = bytearray()
    for name, item in value.items():
        for one in item if isinstance(item, list) else [item]:
            if one is None:
                continue
            out += f"--{boundary}\r\n".encode()
            out += _part(str(name), one)
            out += b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def _part(name: str, value: Any) -> bytes:
    disposition = f'form-data; name="{_escape(name)}"'
    if isinstance(value, (bytes, bytearray)):
        value = FilePart(name, OCTET_STREAM, bytes(value))
    if isinstance(value, FilePart):
        disposition += f'; filename="{_escape(value.filename)}"'
        kind = media_type(value.content_type)
        head = f"Content-Disposition: {disposition}\r\nContent-Type: {kind}\r\n\r\n"
        return head.encode() + value.data
    if isinstance(value, (dict, list)):
        head = f"Content-Disposition: {disposition}\r\nContent-Type: application/json\r\n\r\n"
        return head.encode() + orjson.dumps(value)
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return f"Content-Disposition: {disposition}\r\n\r\n".encode() + text.encode()


def _escape(text: str) -> str:
    return "".join(_ESCAPES.get(c, c) for c in text)


def media_type(text: str | None) -> str:
    """`text` if it is a well-formed media type (`audio/wav`, `text/plain; charset=utf-8`),
    else application/octet-stream: what a caller or an upstream says never forms a header."""
    text = (text or "").strip()
    return text if _MEDIA_TYPE.fullmatch(text) else OCTET_STREAM
