"""Pydantic models of the connector spec, version 1.

Every key of a spec file is declared here; unknown keys are errors. Strategy-like sections
(`auth`, `pagination`, `types`) are discriminated unions on `type`/`strategy`/`kind`, so each
model class maps to exactly one runtime implementation (see the dispatch tables in
`connectql.connectors`). Shorthands: an argument or field may be given as just its type
(`owner: String!`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from connectql.spec.paths import parse_path
from connectql.spec.templates import parse_template
from connectql.spec.typeref import parse_type_ref

NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
GRAPHQL_NAME_PATTERN = r"^[_A-Za-z][_0-9A-Za-z]*$"
TYPE_NAME_PATTERN = r"^[A-Z][_0-9A-Za-z]*$"
HEADER_NAME_PATTERN = r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$"
STATUS_KEY = re.compile(r"^([1-5][0-9][0-9]|[1-5]xx|default)$")
DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024

GraphQLName = Annotated[str, Field(pattern=GRAPHQL_NAME_PATTERN)]
TypeName = Annotated[str, Field(pattern=TYPE_NAME_PATTERN)]


class SpecModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _check_type_ref(value: str) -> str:
    parse_type_ref(value)
    return value


def _check_template(value: str) -> str:
    parse_template(value)
    return value


def _check_path(value: str) -> str:
    parse_path(value)
    return value


def _check_templates_in(value: Any) -> Any:
    if isinstance(value, str):
        parse_template(value)
    elif isinstance(value, dict):
        for v in value.values():
            _check_templates_in(v)
    elif isinstance(value, list):
        for v in value:
            _check_templates_in(v)
    return value


def _type_shorthand(value: Any) -> Any:
    return {"type": value} if isinstance(value, str) else value


# --- connector and config -------------------------------------------------------------


class ConnectorInfo(SpecModel):
    name: Annotated[str, Field(pattern=NAME_PATTERN, max_length=40)]
    """Lower-case identifier; the GraphQL namespace field and the type-name prefix."""
    version: str = "0.1.0"
    title: str | None = None
    description: str | None = None
    docs_url: str | None = None
    namespace: bool = True
    """false: the operations are fields of the root Query and Mutation, not under a field
    named after the connector (names must not clash with other root fields)."""


class ConfigKey(SpecModel):
    type: Literal["string", "integer", "number", "boolean"] = "string"
    required: bool = False
    secret: bool = False
    """A secret value never appears in logs, errors, GraphQL results, generated code or docs."""
    default: str | int | float | bool | None = None
    """A text default may name other config keys (`https://s3.{config.region}.amazonaws.com`)."""
    env: list[Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$")]] = []
    """Environment variables read, first set wins, when the config leaves the key unset
    (`[AWS_REGION, AWS_DEFAULT_REGION]`); never for connectors created at run time."""
    description: str | None = None

    @field_validator("default")
    @classmethod
    def _default_names_config_only(cls, value: Any) -> Any:
        if isinstance(value, str) and ("{" in value or "}" in value):
            for placeholder in parse_template(value).placeholders:
                # {request…} is refused with its location by spec/forwarding.py
                if placeholder.namespace not in ("config", "request"):
                    raise ValueError("a default may name only {config.KEY} placeholders")
        return value


# --- auth -----------------------------------------------------------------------------


class NoAuth(SpecModel):
    type: Literal["none"] = "none"


class ApiKeyAuth(SpecModel):
    type: Literal["api_key"]
    key: str
    """Template of the key, usually `{config.api_key}`."""
    name: str = "X-API-Key"
    """The header or query parameter that carries the key."""
    in_: Literal["header", "query"] = Field("header", alias="in")
    prefix: str = ""

    _templates = field_validator("key")(_check_template)


class BearerAuth(SpecModel):
    type: Literal["bearer"]
    token: str
    header: str = "Authorization"
    scheme: str = "Bearer"

    _templates = field_validator("token")(_check_template)


class BasicAuth(SpecModel):
    type: Literal["basic"]
    username: str
    password: str

    _templates = field_validator("username", "password")(_check_template)


class OAuth2Auth(SpecModel):
    type: Literal["oauth2"]
    grant: Literal["client_credentials", "refresh_token"]
    token_url: str
    client_id: str
    client_secret: str | None = None
    refresh_token: str | None = None
    """Template of the initial refresh token; a rotated one replaces it at run time."""
    scopes: list[str] = []
    audience: str | None = None
    client_auth: Literal["body", "basic"] = "body"
    """How the client authenticates at the token endpoint (form fields or HTTP basic)."""
    expiry_margin: Annotated[float, Field(ge=0)] = 30.0
    """Seconds before `expires_in` at which a token counts as expired."""

    _templates = field_validator("token_url", "client_id", "client_secret", "refresh_token")(
        lambda v: v if v is None else _check_template(v)
    )

    @model_validator(mode="after")
    def _grant_needs(self) -> OAuth2Auth:
        if self.grant == "refresh_token" and not self.refresh_token:
            raise ValueError("grant 'refresh_token' needs refresh_token")
        if self.grant == "client_credentials" and not self.client_secret:
            raise ValueError("grant 'client_credentials' needs client_secret")
        return self


class AwsSigV4Auth(SpecModel):
    type: Literal["aws_sigv4"]
    region: str
    service: str
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    _templates = field_validator(
        "region", "service", "access_key_id", "secret_access_key", "session_token"
    )(lambda v: v if v is None else _check_template(v))


class CustomAuth(SpecModel):
    type: Literal["custom"]
    hook: Annotated[str, Field(min_length=1)]
    """Name of an auth hook registered with `connectql.connectors.hooks`."""
    options: dict[str, str] = {}

    _templates = field_validator("options")(_check_templates_in)


Auth = Annotated[
    NoAuth | ApiKeyAuth | BearerAuth | BasicAuth | OAuth2Auth | AwsSigV4Auth | CustomAuth,
    Field(discriminator="type"),
]


# --- resilience ------------------------------------------------------------------------


class Backoff(SpecModel):
    base: Annotated[float, Field(gt=0)] = 0.5
    max: Annotated[float, Field(gt=0)] = 30.0
    jitter: Literal["full", "none"] = "full"


class RetryPolicy(SpecModel):
    on_status: list[Annotated[int, Field(ge=400, le=599)]] = [429, 502, 503, 504]
    max_attempts: Annotated[int, Field(ge=1, le=10)] = 3
    backoff: Backoff = Backoff()
    respect_retry_after: bool = True
    max_retry_after: Annotated[float, Field(ge=0)] = 120.0
    """A longer Retry-After is not waited for: the call fails with RATE_LIMITED at once."""


class RateLimit(SpecModel):
    requests_per_second: Annotated[float, Field(gt=0)]
    burst: Annotated[int, Field(ge=1)] = 1
    max_wait: Annotated[float, Field(ge=0)] = 30.0
    """Longest a call waits for a token before it fails with RATE_LIMITED."""


class CircuitBreakerPolicy(SpecModel):
    failure_threshold: Annotated[int, Field(ge=1)] = 5
    """Consecutive failed calls that open the breaker."""
    cool_down: Annotated[float, Field(gt=0)] = 30.0
    """Seconds the breaker stays open before it lets one trial call through (half-open)."""
    half_open_max_calls: Annotated[int, Field(ge=1)] = 1


class Timeout(SpecModel):
    total: Annotated[float, Field(gt=0)] = 30.0
    connect: Annotated[float, Field(gt=0)] = 10.0


class BodyMatch(SpecModel):
    """A test on the parsed error body: the value at `path` equals `equals`."""

    path: str
    equals: str | int | bool | None

    _path = field_validator("path")(_check_path)


class CustomError(SpecModel):
    """An error shaped by the spec, optionally only when the body matches `when`."""

    when: BodyMatch | None = None
    code: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$")] | None = None
    """Default: from the status (UNAUTHENTICATED, RATE_LIMITED, NOT_FOUND, UPSTREAM_ERROR)."""
    message: str | None = None
    message_path: str | None = None
    """Path of a message in the error body to pass on (e.g. `error.message`)."""
    details_path: str | None = None
    """Path of structured details to pass on as `extensions.details` (e.g. field errors)."""
    upstream_code_path: str | None = None
    """Path of the upstream's own error code, passed on as `extensions.upstreamCode`."""
    retryable: bool | None = None
    retry: bool = False
    """Retry this response as a transient failure (within the retry policy)."""

    _paths = field_validator("message_path", "details_path", "upstream_code_path")(
        lambda v: v if v is None else _check_path(v)
    )


ErrorAction = Literal["error", "retry", "null", "empty"] | CustomError | list[CustomError] | None
"""`null`/None: the field resolves to null; `empty`: an empty list; `retry`: retried as a
transient failure; `error`: a GraphQL error (the default for every non-2xx status); a custom
error, or a list of them tried in order (the first whose `when` matches)."""


class BodyErrors(SpecModel):
    """Errors reported inside a 2xx body (Slack's `{"ok": false, "error": "..."}`)."""

    when: BodyMatch | None = None
    header: Annotated[str, Field(pattern=HEADER_NAME_PATTERN)] | None = None
    """A response header whose presence marks the error (Lambda's `X-Amz-Function-Error`);
    with `when` too, both must hold."""
    code_path: str
    """Path of the upstream's error code; passed on as `extensions.upstreamCode`."""
    code: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$")] | None = None
    """The GraphQL error code of the other errors (default UPSTREAM_ERROR)."""
    message_path: str | None = None
    """Path of a message in the body to pass on (e.g. `errorMessage`)."""
    auth_codes: list[str] = []
    """Codes meaning the credentials were refused: UNAUTHENTICATED, refreshed once."""
    rate_limit_codes: list[str] = []
    not_found_codes: list[str] = []
    """Codes meaning "no such thing": the field resolves to null, like a mapped 404."""

    _path = field_validator("code_path")(_check_path)
    _message = field_validator("message_path")(lambda v: v if v is None else _check_path(v))

    @model_validator(mode="after")
    def _when_or_header(self) -> BodyErrors:
        if self.when is None and self.header is None:
            raise ValueError("body_errors needs when, header or both")
        return self


class QuotaHeaders(SpecModel):
    """Response headers announcing the upstream's request quota (GitHub's x-ratelimit-*)."""

    remaining: str = "x-ratelimit-remaining"
    reset: str = "x-ratelimit-reset"
    reset_kind: Literal["epoch", "epoch_ms", "seconds"] = "epoch"
    """`epoch`: Unix seconds (GitHub); `epoch_ms`: Unix milliseconds (OpenRouter); `seconds`:
    seconds from now."""
    usage_pattern: str | None = None
    """A regular expression with groups `used` and `limit` read from the `remaining` header
    instead of a count (Salesforce's `Sforce-Limit-Info: api-usage=25/15000`): the quota is
    used up when used >= limit."""
    reset_after: Annotated[float, Field(gt=0)] | None = None
    """Seconds a used-up quota is assumed to last when no `reset` header says (a rolling
    window such as Salesforce's 24 hours)."""

    @field_validator("usage_pattern")
    @classmethod
    def _usage_groups(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                groups = re.compile(value).groupindex
            except re.error as exc:
                raise ValueError(f"usage_pattern is not a regular expression: {exc}") from None
            if not {"used", "limit"} <= set(groups):
                raise ValueError("usage_pattern needs the groups (?P<used>…) and (?P<limit>…)")
        return value


class ResponseCache(SpecModel):
    """Conditional requests: GETs carry If-None-Match; a 304 is served from the cache."""

    etag: bool = True
    max_entries: Annotated[int, Field(ge=1)] = 1000


def _check_error_keys(value: dict[str, ErrorAction]) -> dict[str, ErrorAction]:
    for key in value:
        if not STATUS_KEY.match(key):
            raise ValueError(f"error status key {key!r} must look like 404, 4xx or default")
    return value


class Source(SpecModel):
    base_url: str
    headers: dict[str, str] = {}
    forward_headers: list[Annotated[str, Field(pattern=HEADER_NAME_PATTERN)]] = []
    """The caller's request headers (names case-insensitive) this connector's source and
    request templates may read as `{request.headers.NAME}`: calls made as the caller."""
    timeout: Timeout | Annotated[float, Field(gt=0)] = Timeout()
    auth: Auth = NoAuth()
    auth_schemes: dict[Annotated[str, Field(pattern=NAME_PATTERN)], Auth] = {}
    """Other named ways to authenticate, for the operations that choose one (`auth: NAME`);
    every other operation uses `auth`."""
    retry: RetryPolicy = RetryPolicy()
    rate_limit: RateLimit | None = None
    circuit_breaker: CircuitBreakerPolicy | None = CircuitBreakerPolicy()
    allow_hosts: list[str] = []
    """Hosts besides base_url's that pagination links and hooks' URLs may point to. For a
    connector created at run time, each connection must still pass the operator's egress
    policy: listing a private address here does not make it reachable."""
    max_body_bytes: Annotated[
        int,
        Field(
            gt=0,
            description="The largest upstream answer accepted, counted after decompression "
            "(default 32 MiB); a larger one fails the call with BAD_RESPONSE.",
        ),
    ] = DEFAULT_MAX_BODY_BYTES
    errors: dict[str, ErrorAction] = {}
    """Default status mapping for every operation; an operation's own `errors` win."""
    body_errors: BodyErrors | None = None
    quota_headers: QuotaHeaders | None = None
    """When the quota runs out, calls wait for its reset (or fail at once with RATE_LIMITED
    if that is beyond `rate_limit.max_wait`) instead of hammering the upstream."""
    cache: ResponseCache | None = None
    strict: bool = True
    """false: every output field and result of this connector is nullable in the schema, so a
    value that does not fit its declared type becomes null (reported once, BAD_RESPONSE)
    instead of nulling its parent, and a vendor's sloppy record cannot wipe out a list."""

    _templates = field_validator("base_url", "headers")(_check_templates_in)
    _error_keys = field_validator("errors")(_check_error_keys)

    @property
    def timeouts(self) -> Timeout:
        return self.timeout if isinstance(self.timeout, Timeout) else Timeout(total=self.timeout)


# --- types ------------------------------------------------------------------------------


class Resolve(SpecModel):
    operation: GraphQLName
    args: dict[str, Any] = {}
    """Argument templates of the linked operation, usually `{parent.…}`."""
    connection: bool = True
    """false, linking a paginated operation: the field is a plain list capped by `first`
    instead of a Relay connection."""

    _templates = field_validator("args")(_check_templates_in)


class FieldSpec(SpecModel):
    type: str
    from_: str | None = Field(None, alias="from")
    """Path of the value in the upstream record; defaults to the field's own name."""
    resolve: Resolve | None = None
    args: dict[GraphQLName, ArgSpec] = {}
    """A linked field's own arguments, read by the link's templates as `{args.NAME}`; one
    named like an argument of the linked operation that the link does not set is passed on."""
    description: str | None = None
    deprecated: str | None = None
    """A deprecation reason; the field stays in the schema."""

    _type = field_validator("type")(_check_type_ref)
    _args = field_validator("args", mode="before")(lambda v: _fields_shorthand(v))
    _from = field_validator("from_")(lambda v: v if v is None else _check_path(v))


def _fields_shorthand(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _type_shorthand(v) for k, v in value.items()}
    return value


class ObjectType(SpecModel):
    kind: Literal["object"] = "object"
    description: str | None = None
    key: str | list[str] | None = None
    """Field(s) identifying one object: the federation `@key`."""
    lookup: Resolve | GraphQLName | None = None
    """The query that fetches one object by its key (federation `_entities`): `{operation,
    args}` with `{parent.KEY}` templates, or just the operation's name when each key field is
    its argument of the same name."""
    fields: dict[GraphQLName, FieldSpec]

    _short = field_validator("fields", mode="before")(_fields_shorthand)


class InputType(SpecModel):
    kind: Literal["input"]
    description: str | None = None
    fields: dict[GraphQLName, FieldSpec]

    _short = field_validator("fields", mode="before")(_fields_shorthand)


class EnumType(SpecModel):
    kind: Literal["enum"]
    description: str | None = None
    values: list[str] | dict[GraphQLName, str | int]
    """Upstream values; a list derives GraphQL names (`in-progress` → `IN_PROGRESS`)."""


class UnionDiscriminator(SpecModel):
    field: str
    """Path of the discriminating value in the upstream record."""
    mapping: dict[str, TypeName]


class UnionType(SpecModel):
    kind: Literal["union"]
    description: str | None = None
    types: Annotated[list[TypeName], Field(min_length=1)]
    discriminator: UnionDiscriminator


def _type_kind(value: Any) -> str:
    if isinstance(value, dict):
        kind = value.get("kind", "object")
        return kind if isinstance(kind, str) else "object"
    return str(getattr(value, "kind", "object"))


TypeSpec = Annotated[
    Annotated[ObjectType, Tag("object")]
    | Annotated[InputType, Tag("input")]
    | Annotated[EnumType, Tag("enum")]
    | Annotated[UnionType, Tag("union")],
    Discriminator(
        _type_kind,
        custom_error_type="invalid_kind",
        custom_error_message="kind must be one of object, input, enum, union",
    ),
]


# --- operations -------------------------------------------------------------------------


ParamStyle = Literal[
    "form", "spaceDelimited", "pipeDelimited", "deepObject", "simple", "label", "matrix"
]
"""OpenAPI 3.1 parameter styles: `form`, `spaceDelimited`, `pipeDelimited` and `deepObject`
in the query; `simple`, `label` and `matrix` in the path; `simple` in headers."""


class ArgSpec(SpecModel):
    type: str
    default: Any = None
    description: str | None = None
    style: ParamStyle | None = None
    """How the value is written where the request uses it as a whole (`{args.x}` as a query
    value, a path placeholder or a header value); default: `form` in the query, `simple` in
    the path and headers, as in OpenAPI."""
    explode: bool | None = None
    """Default: true for `form`, false for every other style, as in OpenAPI."""
    allow_reserved: bool = False
    """In the path: keep `/` between percent-encoded segments (a resource name such as
    `models/veo/operations/7`); an empty, `.` or `..` segment is refused."""

    _type = field_validator("type")(_check_type_ref)


class RequestSpec(SpecModel):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "GET"
    base_url: str | None = None
    """This request's API root instead of `source.base_url`, for an API spread over several
    hosts; a template of config only (`{config.vision_url}`). Its host is allowed too."""
    path: str = ""
    """Appended to base_url; placeholder values are percent-encoded."""
    query: dict[str, Any] = {}
    """Query parameters; a parameter whose value renders to null (or an empty list or
    object) is left out. Lists and objects are written in the argument's `style`."""
    headers: dict[str, str] = {}
    body: Any = None
    body_format: Literal["json", "form", "xml", "multipart", "text"] = "json"
    """`multipart`: multipart/form-data; `FileInput` arguments become file parts; `text`: the
    rendered body as UTF-8 text (an object's content as it is)."""
    xml_root: str = "request"

    _templates = field_validator("base_url", "path", "query", "headers", "body")(
        _check_templates_in
    )


class ResponseSpec(SpecModel):
    type: str
    """GraphQL type of the result: `Book`, `[Book!]!`; paginated operations name the item type."""
    records: str | None = None
    """Path of the records in the parsed body (`data.items`); default: the whole body."""
    filter: dict[str, Any] = {}
    """Keep only records whose value at each path equals the given value."""
    format: Literal["json", "xml", "form", "text"] | None = None
    """How to parse the body; default: from its Content-Type."""
    empty: Any = None
    """The result of a 2xx answer without a body (204 No Content), e.g. `true`; default null."""
    headers: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")], str] = {}
    """A single result's values read from response headers: key in the record → header name
    (`{etag: ETag}`); an answer without a body (HEAD, a PUT) is then a record of these."""

    _type = field_validator("type")(_check_type_ref)
    _records = field_validator("records")(lambda v: v if v is None else _check_path(v))

    @field_validator("filter")
    @classmethod
    def _filter_paths(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            parse_path(key)
        return value


class _PaginationBase(SpecModel):
    page_size: Annotated[int, Field(ge=1)] = 30
    """Records asked for per upstream page; never more than the upstream's cap."""
    size_param: str | None = None
    """The query parameter carrying the page size; None sends none."""
    max_items: Annotated[int, Field(ge=1)] = 1000
    """Largest `first` a client may ask for."""


class PagePagination(_PaginationBase):
    strategy: Literal["page"]
    page_param: str = "page"
    start_page: int = 1
    total_pages_path: str | None = None


class OffsetPagination(_PaginationBase):
    strategy: Literal["offset"]
    offset_param: str = "offset"
    total_path: str | None = None


class CursorPagination(_PaginationBase):
    strategy: Literal["cursor"]
    cursor_param: str = "cursor"
    cursor_path: str | None = None
    """Path of the next cursor in the body; null or empty ends the list."""
    cursor_from_last: str | None = None
    """Instead of `cursor_path`: path of the next cursor in the page's last record (Stripe's
    `starting_after` takes the last record's `id`)."""
    has_more_path: str | None = None
    """Path of a flag in the body (`has_more`); false ends the list."""
    cursor_in: Literal["query", "body"] = "query"
    """`body`: the cursor and page size are top-level keys of the JSON request body, and a
    cursor may be an object (DynamoDB's `ExclusiveStartKey` from `LastEvaluatedKey`)."""

    _path = field_validator("cursor_path", "cursor_from_last", "has_more_path")(
        lambda v: v if v is None else _check_path(v)
    )

    @model_validator(mode="after")
    def _one_cursor_source(self) -> CursorPagination:
        if (self.cursor_path is None) == (self.cursor_from_last is None):
            raise ValueError("cursor pagination needs one of cursor_path or cursor_from_last")
        return self


class LinkHeaderPagination(_PaginationBase):
    strategy: Literal["link_header"]
    rel: str = "next"


class NextUrlPagination(_PaginationBase):
    strategy: Literal["next_url"]
    next_url_path: str

    _path = field_validator("next_url_path")(_check_path)


class NoPagination(SpecModel):
    strategy: Literal["none"]


Pagination = Annotated[
    PagePagination
    | OffsetPagination
    | CursorPagination
    | LinkHeaderPagination
    | NextUrlPagination
    | NoPagination,
    Field(discriminator="strategy"),
]


class Warm(SpecModel):
    """Prime a request's loader from a list operation before fetching keys one by one."""

    operation: GraphQLName
    """A list operation (usually paginated) whose records are items of this one."""
    key: str
    """Path of the key in each listed record (e.g. `id`)."""


class Batch(SpecModel):
    key: GraphQLName
    """The operation argument that identifies one item."""
    mode: Literal["request", "fan_out", "hook"] = "fan_out"
    request: RequestSpec | None = None
    hook: str | None = None
    """mode `hook`: an operation hook called once per `max_batch` keys with the other
    arguments and `keys`; it returns the items in key order (None where absent)."""
    """mode `request`: the multi-get call; `{keys}` is the list of keys."""
    records: str | None = None
    """mode `request`: path of the records in the multi-get response."""
    match_on: str | None = None
    """mode `request`: the response-type field whose value is the key; without it, results
    are matched to keys by position (the upstream answers in request order)."""
    join: str | None = ","
    """How `{keys}` becomes text in a path or query: joined by this, or repeated if null."""
    each: Any = None
    """mode `request`: what each key becomes in `{keys}`, a value with templates (`{key}`
    the key, `{args.…}`, `{config.…}`), for multi-gets whose body lists one object per key;
    without it, `{keys}` is the keys themselves."""
    max_batch: Annotated[int, Field(ge=1)] = 100
    max_concurrency: Annotated[int, Field(ge=1)] = 10
    warm: Warm | None = None

    _records = field_validator("records")(lambda v: v if v is None else _check_path(v))

    @model_validator(mode="after")
    def _request_mode_needs(self) -> Batch:
        if self.mode == "request" and self.request is None:
            raise ValueError("batch mode 'request' needs request")
        if self.mode == "hook" and self.hook is None:
            raise ValueError("batch mode 'hook' needs hook")
        return self


class Poll(SpecModel):
    """A subscription that reads a query operation again and again: each answer is an event,
    and the one where `until` holds is the last (a long-running operation that is `done`)."""

    operation: GraphQLName
    """The query operation read; it gets the subscription's arguments."""
    until: str
    """Path in its answer; a truthy value ends the stream (after sending that answer)."""
    every: Annotated[float, Field(ge=0.1)] = 5.0
    """Seconds between reads; a subscriber may ask for another interval (`intervalMs`, at
    least 100 ms)."""
    max_polls: Annotated[int, Field(ge=1)] = 720

    _until = field_validator("until")(_check_path)


class Operation(SpecModel):
    kind: Literal["query", "mutation", "subscription"] = "query"
    description: str | None = None
    args: dict[GraphQLName, ArgSpec] = {}
    request: RequestSpec = RequestSpec()
    hook: str | None = None
    """An operation implemented by a registered hook (multi-step flows) instead of `request`."""
    response: ResponseSpec
    pagination: Pagination | None = None
    errors: dict[str, ErrorAction] = {}
    batch: Batch | None = None
    idempotent: bool | None = None
    """Whether failed calls may be retried; default: true for GET, HEAD, PUT and DELETE."""
    timeout: Annotated[float, Field(gt=0)] | None = None
    deprecated: str | None = None
    auth: str | None = None
    """A name from `source.auth_schemes`: how this operation authenticates, instead of
    `source.auth`."""
    expose: bool = True
    """false: no field in the public schema; links, joins and federation lookups still use it."""
    poll: Poll | None = None
    """kind `subscription`: the query it reads until done (no `request` of its own)."""

    _short = field_validator("args", mode="before")(_fields_shorthand)
    _error_keys = field_validator("errors")(_check_error_keys)

    @model_validator(mode="after")
    def _subscription_polls(self) -> Operation:
        if (self.kind == "subscription") != (self.poll is not None):
            raise ValueError("a subscription operation needs poll, and only a subscription has one")
        return self

    @property
    def is_paginated(self) -> bool:
        return self.pagination is not None and not isinstance(self.pagination, NoPagination)

    @property
    def retries_allowed(self) -> bool:
        if self.idempotent is not None:
            return self.idempotent
        return self.request.method in ("GET", "HEAD", "PUT", "DELETE")


class FirstRequest(SpecModel):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] | None = None
    path: str | None = None
    """The request path after base_url's own path, e.g. `/books/7`."""
    query: dict[str, str] | None = None


class Expectation(SpecModel):
    requests: Annotated[int, Field(ge=0)] | None = None
    """How many upstream requests the call makes (pages, batches, retries)."""
    first_request: FirstRequest | None = None
    results: Annotated[int, Field(ge=0)] | None = None
    """How many records come back (1 or 0 for a single result)."""
    match_types: bool = True
    """Every result fits the declared GraphQL type (required fields present, scalars right)."""


class SpecTest(SpecModel):
    """An offline test of one operation against recorded exchanges (`connectql test`)."""

    name: Annotated[str, Field(min_length=1)]
    operation: GraphQLName
    args: dict[str, Any] = {}
    first: Annotated[int, Field(ge=1)] | None = None
    """Paginated operations: how many records to ask for (default: page_size)."""
    keys: list[Any] | None = None
    """Batched operations: load these keys in one batch instead of calling once with args."""
    fixture: Annotated[str, Field(min_length=1)]
    """Recorded exchanges, a JSON file relative to the spec (written by --record)."""
    expect: Expectation = Expectation()


class Extends(SpecModel):
    """`extends:` at the top of a spec: start from a prebuilt connector's spec and merge this
    file over it (mappings key by key, anything else replaced), after dropping `omit`."""

    builtin: Annotated[str, Field(pattern=NAME_PATTERN)]
    omit: list[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$")]] = []
    """Dotted keys of the base to leave out, e.g. `operations.embedding`."""


class ConnectorSpec(SpecModel):
    """One connector: where its API is, how to call it, and the GraphQL it becomes."""

    spec_version: Literal[1] = 1
    connector: ConnectorInfo
    config: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")], ConfigKey] = {}
    source: Source
    types: dict[TypeName, TypeSpec] = {}
    operations: Annotated[dict[GraphQLName, Operation], Field(min_length=1)]
    tests: list[SpecTest] = []

    @property
    def name(self) -> str:
        return self.connector.name

    def secret_keys(self) -> frozenset[str]:
        return frozenset(k for k, v in self.config.items() if v.secret)
