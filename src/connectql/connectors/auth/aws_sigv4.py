"""AWS Signature Version 4, signed by botocore (never by hand)."""

from __future__ import annotations

import logging

from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from connectql.connectors.auth.base import AuthContext, AuthStrategy
from connectql.connectors.http import HttpRequest
from connectql.connectors.styles import encode_query
from connectql.spec.models import AwsSigV4Auth
from connectql.spec.templates import to_text


class _NoSigningDetails(logging.Filter):
    """botocore logs each canonical request at DEBUG, session token included: not ours."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


logging.getLogger("botocore.auth").addFilter(_NoSigningDetails())

SIGNED_HEADERS = ("Authorization", "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-SHA256")


class AwsSigV4Strategy(AuthStrategy):
    def __init__(self, spec: AwsSigV4Auth, ctx: AuthContext) -> None:
        self._region = str(ctx.render(spec.region))
        self._service = str(ctx.render(spec.service))
        # an optional token whose config key is unset renders empty: no token, not "None"
        token = to_text(ctx.render(spec.session_token)) if spec.session_token else ""
        self._credentials = Credentials(
            str(ctx.render(spec.access_key_id)),
            str(ctx.render(spec.secret_access_key)),
            token or None,
        )

    async def apply(self, request: HttpRequest) -> None:
        url = request.url
        if request.params:
            # the query exactly as the HTTP layer will write it: the signature covers it
            url += ("&" if "?" in url else "?") + encode_query(request.params)
        aws = AWSRequest(
            method=request.method,
            url=url,
            data=request.body or b"",
            headers={k: v for k, v in request.headers.items() if k.lower() != "authorization"},
        )
        # S3 signs the path as sent (no double encoding) and its payload hash as a header
        signer = S3SigV4Auth if self._service == "s3" else SigV4Auth
        signer(self._credentials, self._service, self._region).add_auth(aws)
        for name in SIGNED_HEADERS:
            value = aws.headers.get(name)
            if value is not None:
                request.headers[name] = value

    def secrets(self) -> list[str]:
        creds = self._credentials
        return [s for s in (creds.secret_key, creds.token) if s]
