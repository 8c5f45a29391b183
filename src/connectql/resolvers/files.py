"""Files through GraphQL: `FileInput` arguments read into `FilePart`s, and the `base64` and
`url` fields of `Binary` results.

A file argument comes as an upload (a file part of a GraphQL multipart request, which the
server has spooled) or as base64 inside a JSON body; either way at most `max_upload` bytes
are read. `base64` answers up to `max_inline` bytes; `url` puts the bytes in the download
store and links to them.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from graphql import GraphQLFieldResolver, GraphQLResolveInfo

from connectql.connectors.connector import Connector
from connectql.connectors.files import OCTET_STREAM, BinaryBody, FilePart, media_type
from connectql.errors import ConnectorError
from connectql.resolvers.downloads import PATH_PREFIX, DownloadStore
from connectql.spec.models import Operation
from connectql.spec.typeref import FILE_INPUT, parse_type_ref

Info = GraphQLResolveInfo[Any]
TOO_LARGE = "PAYLOAD_TOO_LARGE"
DEFAULT_MAX_UPLOAD = 25 * 1024 * 1024
DEFAULT_MAX_INLINE = 1024 * 1024


def file_args(op: Operation) -> frozenset[str]:
    """The names of an operation's FileInput arguments."""
    return frozenset(
        name for name, arg in op.args.items() if parse_type_ref(arg.type).base == FILE_INPUT
    )


class Files:
    def __init__(
        self,
        downloads: DownloadStore | None = None,
        *,
        max_upload: int = DEFAULT_MAX_UPLOAD,
        max_inline: int = DEFAULT_MAX_INLINE,
    ) -> None:
        self.downloads = downloads or DownloadStore()
        self.max_upload = max_upload
        self.max_inline = max_inline

    async def read_args(
        self, connector: Connector, op_name: str, args: Mapping[str, Any], names: frozenset[str]
    ) -> dict[str, Any]:
        """`args` with each FileInput value (or list of them) read into a FilePart."""
        out = dict(args)
        for name in names & args.keys():
            value = args[name]
            if isinstance(value, list):
                out[name] = [await self._read(connector, op_name, name, v) for v in value]
            elif value is not None:
                out[name] = await self._read(connector, op_name, name, value)
        return out

    async def _read(
        self, connector: Connector, op_name: str, arg: str, value: Mapping[str, Any]
    ) -> FilePart:
        def refuse(message: str, code: str = "BAD_USER_INPUT") -> ConnectorError:
            return ConnectorError(
                f"{arg}: {message}", connector=connector.name, operation=op_name, code=code
            )

        upload, encoded = value.get("upload"), value.get("base64")
        limit = self.max_upload
        too_large = f"the file is over the limit of {limit:,} bytes (limits.max_upload_size)"
        if upload is not None and encoded is None:
            data = await upload.read(limit + 1)
            name, kind = getattr(upload, "filename", None), getattr(upload, "content_type", None)
        elif isinstance(encoded, str) and upload is None:
            if len(encoded) > (limit + 2) // 3 * 4 + 4:  # its decoded size, before decoding
                raise refuse(too_large, TOO_LARGE)
            try:
                data = base64.b64decode("".join(encoded.split()), validate=True)
            except (binascii.Error, ValueError):
                raise refuse("base64 is not valid base64") from None
            name = kind = None
        else:
            raise refuse("give exactly one of upload and base64")
        if len(data) > limit:
            raise refuse(too_large, TOO_LARGE)
        filename = value.get("filename") or name or "file"
        content_type = value.get("contentType") or kind or OCTET_STREAM
        return FilePart(str(filename), media_type(str(content_type)), bytes(data))

    def field(self, name: str) -> GraphQLFieldResolver:
        """The resolver of a Binary result's `base64` or `url`."""
        if name == "base64":
            return self._base64
        if name == "url":
            return self._url
        raise ValueError(f"Binary has no field {name!r} resolved here")

    def _base64(self, parent: BinaryBody, info: Info) -> str:
        if parent.size > self.max_inline:
            raise ConnectorError(
                f"the file is {parent.size:,} bytes, over the {self.max_inline:,} bytes "
                "base64 returns (limits.max_inline_binary): fetch it by url",
                code=TOO_LARGE,
            )
        return base64.b64encode(parent.data).decode()

    def _url(self, parent: BinaryBody, info: Info) -> str:
        try:
            token = self.downloads.put(parent)
        except ValueError as exc:
            raise ConnectorError(str(exc), code=TOO_LARGE) from None
        return _base_url(info) + PATH_PREFIX + token


def _base_url(info: Info) -> str:
    """This server's URL as the caller reached it (root path included), or "" outside a
    request: the link is then a path."""
    request = getattr(info.context, "request", None)
    base = getattr(request, "base_url", None)
    if base is None:
        return ""
    text = str(base).rstrip("/")
    if text.startswith("ws"):  # a WebSocket's: the link is fetched over HTTP
        text = "http" + text[2:]
    return text
