"""A fake of Salesforce's REST API and OAuth2 token endpoint, as an aiohttp app.

    state = SalesforceState.seeded()
    async with FakeUpstream(create_salesforce_app(state)) as sf:
        ...  # POST {sf.url}/services/oauth2/token, then GET {instance_url}/services/data/v59.0/…

Like Salesforce: the token endpoint takes the JWT bearer grant (an RS256 assertion checked
with the connected app's certificate) and the refresh-token grant, and names the org's
`instance_url` (the fake's own URL unless `state.instance_url` says otherwise); data calls
live under `/services/data/vNN.0/`, need `Authorization: Bearer <token>` (else 401
`INVALID_SESSION_ID`), count against the org's daily allowance (`Sforce-Limit-Info:
api-usage=N/LIMIT` on every answer; over it, 403 `REQUEST_LIMIT_EXCEEDED`), and fail with
error arrays `[{"message", "errorCode", "fields"}]`. SOQL is a subset: `SELECT f, … FROM
Object [WHERE f = 'v' | f IN ('a', …) [AND …]] [ORDER BY f [ASC|DESC]] [LIMIT n]`, paged by
`nextRecordsUrl` in batches of `Sforce-Query-Options: batchSize=` (200 to 2000, default 2000).

Every request a real org would refuse for its shape (unknown resource or method, bad API
version, malformed SOQL or id, a body that is not JSON, a Collections URI over 16 KiB, a
token request that is not a form) is answered as Salesforce would and recorded in
`state.violations`, so a test can assert a client sent none. Field-level errors (unknown or
read-only fields, missing required ones) are ordinary answers, not violations.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import itertools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import jwt
import orjson
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

CLIENT_ID = "3MVG9fake.connected.app.consumer.key"
CLIENT_SECRET = "fake-consumer-secret-5F1D"
USERNAME = "integration@connectql.example"
REFRESH_TOKEN = "5Aep861fake.refresh.token.Xw2"
ORG_ID = "00D5g000000FAKEEAA"
USER_ID = "0055g000000FAKEAAA"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")
MIN_VERSION, MAX_VERSION = 31, 60
MAX_URI_BYTES = 16_384
"""Salesforce's URI limit: a GET through sObject Collections takes about 800 ids."""
ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
INDUSTRIES = ("Banking", "Energy", "Retail", "Technology", "Education")


def to_18(id15: str) -> str:
    """Salesforce's case-safe 18-character form of a 15-character id."""
    suffix = ""
    for chunk in (id15[0:5], id15[5:10], id15[10:15]):
        bits = sum(1 << i for i, c in enumerate(chunk) if "A" <= c <= "Z")
        suffix += ID_ALPHABET[bits]
    return id15 + suffix


def make_id(prefix: str, n: int) -> str:
    return to_18(f"{prefix}5g00000{n:05d}")


@dataclass(frozen=True)
class FieldMeta:
    name: str
    type: str = "string"
    label: str = ""
    length: int = 255
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    required: bool = False
    reference_to: tuple[str, ...] = ()
    picklist: tuple[str, ...] = ()

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label or self.name,
            "type": self.type,
            "length": self.length if self.type in ("string", "email", "picklist") else 0,
            "nillable": self.nillable,
            "createable": self.createable,
            "updateable": self.updateable,
            "custom": self.name.endswith("__c"),
            "referenceTo": list(self.reference_to),
            "picklistValues": [
                {"active": True, "defaultValue": False, "label": v, "value": v}
                for v in self.picklist
            ],
        }


def _system_fields() -> list[FieldMeta]:
    return [
        FieldMeta("Id", "id", "Record ID", 18, False, False, False),
        FieldMeta("CreatedDate", "datetime", "Created Date", 0, False, False, False),
    ]


SOBJECTS: dict[str, tuple[str, str, list[FieldMeta]]] = {
    "Account": (
        "001",
        "Accounts",
        [
            *_system_fields(),
            FieldMeta("Name", label="Account Name", nillable=False, required=True),
            FieldMeta("Industry", "picklist", picklist=INDUSTRIES),
            FieldMeta("BillingCity", label="Billing City", length=40),
            FieldMeta("NumberOfEmployees", "int", "Employees"),
            FieldMeta("AnnualRevenue", "currency", "Annual Revenue"),
        ],
    ),
    "Contact": (
        "003",
        "Contacts",
        [
            *_system_fields(),
            FieldMeta("FirstName", label="First Name", length=40),
            FieldMeta("LastName", label="Last Name", length=80, nillable=False, required=True),
            FieldMeta("Email", "email"),
            FieldMeta("AccountId", "reference", "Account ID", 18, reference_to=("Account",)),
        ],
    ),
}


@dataclass(frozen=True)
class Grant:
    grant_type: str
    access_token: str


@dataclass
class SalesforceState:
    """The org and the knobs tests turn; every field may be read or changed mid-test."""

    records: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    """sObject name -> 18-character id -> the record's fields (without `attributes`)."""
    private_key_pem: str = ""
    """The connected app's key (tests sign with it); its public half checks assertions."""
    public_key_pem: str = ""
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    username: str = USERNAME
    refresh_tokens: set[str] = field(default_factory=lambda: {REFRESH_TOKEN})
    tokens: set[str] = field(default_factory=set)
    """Valid access tokens; remove one to expire its session."""
    grants: list[Grant] = field(default_factory=list)
    instance_url: str | None = None
    """What the token endpoint names as the org's instance; None: the fake's own URL."""
    api_usage: int = 0
    api_limit: int = 15_000
    deleted: set[str] = field(default_factory=set)
    """15-character ids of deleted records (in the recycle bin)."""
    violations: list[str] = field(default_factory=list)
    cursors: dict[str, tuple[list[dict[str, Any]], int]] = field(default_factory=dict)
    """Query locator -> the query's whole result and its batch size, read batch by batch."""
    now: Callable[[], float] = time.time
    _serial: itertools.count[int] = field(default_factory=lambda: itertools.count(90_000))

    @classmethod
    def seeded(cls, n_accounts: int = 450, n_contacts: int = 30, **knobs: Any) -> SalesforceState:
        """A deterministic org: `n_accounts` Accounts (`Account 0001`, …) and `n_contacts`
        Contacts, contact i working at account i. One RSA key (2048 bits) per state."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        state = cls(
            private_key_pem=key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode(),
            public_key_pem=key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode(),
            **knobs,
        )
        created = "2024-01-15T09:30:00.000+0000"
        state.records["Account"] = {}
        for i in range(n_accounts):
            rid = make_id("001", i + 1)
            state.records["Account"][rid] = {
                "Id": rid,
                "CreatedDate": created,
                "Name": f"Account {i + 1:04d}",
                "Industry": INDUSTRIES[i % len(INDUSTRIES)],
                "BillingCity": ("Amsterdam", "Lyon", "Austin")[i % 3],
                "NumberOfEmployees": 10 * (i + 1),
                "AnnualRevenue": 1000.0 * (i + 1),
            }
        accounts = list(state.records["Account"])
        state.records["Contact"] = {}
        for i in range(n_contacts):
            rid = make_id("003", i + 1)
            state.records["Contact"][rid] = {
                "Id": rid,
                "CreatedDate": created,
                "FirstName": f"Person{i + 1}",
                "LastName": f"Contact{i + 1}",
                "Email": f"person{i + 1}@example.com",
                "AccountId": accounts[i % len(accounts)] if accounts else None,
            }
        return state

    def issue_token(self, grant_type: str) -> str:
        token = f"{ORG_ID[:15]}!AQ{hashlib.sha256(str(next(self._serial)).encode()).hexdigest()}"
        self.tokens.add(token)
        self.grants.append(Grant(grant_type, token))
        return token

    def find(self, sobject: str, record_id: str) -> dict[str, Any] | None:
        """A record by its 15- or 18-character id (the first 15 characters decide)."""
        for rid, record in self.records.get(sobject, {}).items():
            if rid[:15] == record_id[:15]:
                return record
        return None


STATE = web.AppKey("state", SalesforceState)


# --- answers ---------------------------------------------------------------------------


class SalesforceError(Exception):
    """An answer with Salesforce's error array; `violation` marks a malformed request."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: list[str] | None = None,
        *,
        violation: bool = False,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.fields = fields or []
        self.violation = violation


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(data), content_type="application/json")


def _error_response(error: SalesforceError) -> web.Response:
    body: dict[str, Any] = {"message": error.message, "errorCode": error.code}
    if error.fields:
        body["fields"] = error.fields
    return _json([body], error.status)


def _oauth_error(code: str, description: str, status: int = 400) -> web.Response:
    return _json({"error": code, "error_description": description}, status)


def _violation(state: SalesforceState, request: web.Request, why: str) -> None:
    state.violations.append(f"{request.method} {request.path}: {why}")


def _origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


# --- the token endpoint -------------------------------------------------------------------


async def _token(request: web.Request) -> web.Response:
    state: SalesforceState = request.app[STATE]
    if request.content_type != "application/x-www-form-urlencoded":
        _violation(state, request, f"token request as {request.content_type!r}, not a form")
        return _oauth_error("invalid_request", "grant type not supported")
    form = dict(parse_qsl((await request.read()).decode(), keep_blank_values=True))
    grant = form.get("grant_type", "")
    if grant == JWT_BEARER:
        problem = _check_assertion(state, form.get("assertion", ""), _origin(request))
        if problem is not None:
            return _oauth_error(*problem)
    elif grant == "refresh_token":
        if form.get("client_id") != state.client_id:
            return _oauth_error("invalid_client_id", "client identifier invalid")
        if "client_secret" in form and form["client_secret"] != state.client_secret:
            return _oauth_error("invalid_client", "invalid client credentials")
        if form.get("refresh_token") not in state.refresh_tokens:
            return _oauth_error("invalid_grant", "expired access/refresh token")
    else:
        _violation(state, request, f"unsupported grant_type {grant!r}")
        return _oauth_error("unsupported_grant_type", "grant type not supported")
    token = state.issue_token(grant)
    instance = state.instance_url or _origin(request)
    issued = str(int(state.now() * 1000))
    answer = {
        "access_token": token,
        "instance_url": instance,
        "id": f"{_origin(request)}/id/{ORG_ID}/{USER_ID}",
        "token_type": "Bearer",
        "scope": "api",
        "issued_at": issued,
    }
    if grant == "refresh_token":
        digest = hmac.new(
            state.client_secret.encode(), f"{answer['id']}{issued}".encode(), "sha256"
        ).digest()
        answer["signature"] = base64.b64encode(digest).decode()
    return _json(answer)


def _check_assertion(state: SalesforceState, assertion: str, origin: str) -> tuple[str, str] | None:
    """Why Salesforce refuses a JWT bearer assertion (error, description), or None."""
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError:
        return "invalid_grant", "invalid assertion"
    if header.get("alg") != "RS256":
        return "invalid_grant", "invalid assertion"
    try:
        claims = jwt.decode(
            assertion,
            state.public_key_pem,
            algorithms=["RS256"],
            audience=[*AUDIENCES, origin],
            options={"require": ["iss", "sub", "aud", "exp"], "verify_exp": False},
        )
    except jwt.InvalidAudienceError:
        return "invalid_grant", "audience is invalid"
    except jwt.PyJWTError:
        return "invalid_grant", "invalid assertion"
    try:  # a number, or its decimal string (simple-salesforce sends one; Salesforce takes it)
        expires = float(claims["exp"])
    except (TypeError, ValueError):
        return "invalid_grant", "invalid assertion"
    if expires <= state.now():
        return "invalid_grant", "expired authorization code"
    if expires > state.now() + 300:
        return "invalid_grant", "invalid assertion"  # Salesforce allows 3 minutes (+ skew)
    if claims["iss"] != state.client_id:
        return "invalid_client_id", "client identifier invalid"
    if claims["sub"] != state.username:
        return "invalid_grant", "user hasn't approved this consumer"
    return None


# --- the data API ------------------------------------------------------------------------

DATA_PATH = re.compile(r"^/services/data/v(?P<version>[^/]+)(?P<rest>/.*)?$")
ID_PATTERN = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")


async def _data(request: web.Request) -> web.StreamResponse:
    state: SalesforceState = request.app[STATE]
    match = DATA_PATH.match(request.path)
    assert match is not None
    try:
        version = _version(match["version"])
        auth = request.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme not in ("Bearer", "OAuth") or token not in state.tokens:
            raise SalesforceError(401, "INVALID_SESSION_ID", "Session expired or invalid")
        state.api_usage += 1
        if state.api_usage > state.api_limit:
            raise SalesforceError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        response = await _route(state, request, version, match["rest"] or "/")
    except SalesforceError as error:
        if error.violation:
            _violation(state, request, f"{error.code}: {error.message}")
        response = _error_response(error)
    if response.status != 401:
        used = min(state.api_usage, state.api_limit)
        response.headers["Sforce-Limit-Info"] = f"api-usage={used}/{state.api_limit}"
    return response


def _version(text: str) -> str:
    number = re.fullmatch(r"(\d+)\.0", text)
    if number is None or not MIN_VERSION <= int(number[1]) <= MAX_VERSION:
        raise SalesforceError(
            404, "NOT_FOUND", "The requested resource does not exist", violation=True
        )
    return text


async def _route(
    state: SalesforceState, request: web.Request, version: str, rest: str
) -> web.Response:
    parts = [p for p in rest.split("/") if p]
    method = request.method
    if parts == ["query"] and method == "GET":
        return _query(state, request, version)
    if len(parts) == 2 and parts[0] == "query" and method == "GET":
        return _query_more(state, version, parts[1])
    if len(parts) == 3 and parts[:2] == ["composite", "sobjects"] and method == "GET":
        return _collection(state, request, version, parts[2])
    if parts[:1] == ["sobjects"] and len(parts) >= 2:
        sobject = _sobject(parts[1])
        if len(parts) == 3 and parts[2] == "describe" and method == "GET":
            return _json(_describe(sobject, version))
        if len(parts) == 2 and method == "POST":
            return _create(state, sobject, await _body(request))
        if len(parts) == 3 and method in ("GET", "PATCH", "DELETE"):
            record_id = _record_id(parts[2])
            if method == "GET":
                fields = _fields_param(sobject, request.query.get("fields"), required=False)
                found = state.find(sobject, record_id)
                if found is None:
                    raise _not_found()
                return _json(_shape(sobject, found, fields, version))
            if method == "PATCH":
                return _update(state, sobject, record_id, await _body(request))
            return _delete(state, sobject, record_id)
    raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist", violation=True)


def _not_found() -> SalesforceError:
    return SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")


def _sobject(name: str) -> str:
    if name not in SOBJECTS:
        raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")
    return name


def _record_id(text: str) -> str:
    if not ID_PATTERN.match(text):
        raise SalesforceError(400, "MALFORMED_ID", f"malformed id {text}", violation=True)
    return text


def _meta(sobject: str) -> dict[str, FieldMeta]:
    return {f.name: f for f in SOBJECTS[sobject][2]}


def _fields_param(sobject: str, text: str | None, *, required: bool) -> list[str] | None:
    if text is None or not text.strip():
        if required:
            raise SalesforceError(
                400,
                "MALFORMED_QUERY",
                "The 'fields' parameter is required to query records",
                violation=True,
            )
        return None
    names = [n.strip() for n in text.split(",")]
    known = _meta(sobject)
    for name in names:
        if name not in known:
            raise SalesforceError(
                400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {sobject}"
            )
    return names


def _shape(
    sobject: str, record: dict[str, Any], fields: list[str] | None, version: str
) -> dict[str, Any]:
    shaped: dict[str, Any] = {
        "attributes": {
            "type": sobject,
            "url": f"/services/data/v{version}/sobjects/{sobject}/{record['Id']}",
        }
    }
    for name in fields if fields is not None else [f.name for f in SOBJECTS[sobject][2]]:
        shaped[name] = record.get(name)
    return shaped


def _describe(sobject: str, version: str) -> dict[str, Any]:
    prefix, plural, fields = SOBJECTS[sobject]
    return {
        "name": sobject,
        "label": sobject,
        "labelPlural": plural,
        "keyPrefix": prefix,
        "custom": False,
        "createable": True,
        "updateable": True,
        "deletable": True,
        "queryable": True,
        "fields": [f.describe() for f in fields],
        "urls": {
            "describe": f"/services/data/v{version}/sobjects/{sobject}/describe",
            "sobject": f"/services/data/v{version}/sobjects/{sobject}",
        },
    }


async def _body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise SalesforceError(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            f"Content type '{request.content_type}' not supported",
            violation=True,
        )
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        raise SalesforceError(
            400, "JSON_PARSER_ERROR", "Unexpected character in the request body", violation=True
        ) from None
    if not isinstance(body, dict):
        raise SalesforceError(
            400,
            "JSON_PARSER_ERROR",
            "Cannot deserialize instance of sObject from a non-object",
            violation=True,
        )
    return body


def _check_writable(sobject: str, body: dict[str, Any], *, creating: bool) -> None:
    known = _meta(sobject)
    for name in body:
        if name == "attributes":
            continue
        meta = known.get(name)
        if meta is None:
            raise SalesforceError(
                400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {sobject}"
            )
        if not (meta.createable if creating else meta.updateable):
            raise SalesforceError(
                400,
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {name}. Please check the security settings "
                "of this field and verify that it is read/write for your profile or "
                "permission set.",
                [name],
            )


def _create(state: SalesforceState, sobject: str, body: dict[str, Any]) -> web.Response:
    _check_writable(sobject, body, creating=True)
    missing = [
        f.name for f in SOBJECTS[sobject][2] if f.required and body.get(f.name) in (None, "")
    ]
    if missing:
        raise SalesforceError(
            400,
            "REQUIRED_FIELD_MISSING",
            f"Required fields are missing: [{', '.join(missing)}]",
            missing,
        )
    rid = make_id(SOBJECTS[sobject][0], next(state._serial))
    created = dt.datetime.fromtimestamp(state.now(), dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    record: dict[str, Any] = {f.name: None for f in SOBJECTS[sobject][2]}
    record.update({k: v for k, v in body.items() if k != "attributes"})
    record.update({"Id": rid, "CreatedDate": created})
    state.records.setdefault(sobject, {})[rid] = record
    return _json({"id": rid, "success": True, "errors": []}, 201)


def _update(
    state: SalesforceState, sobject: str, record_id: str, body: dict[str, Any]
) -> web.Response:
    found = state.find(sobject, record_id)
    if found is None:
        raise _not_found()
    _check_writable(sobject, body, creating=False)
    found.update({k: v for k, v in body.items() if k != "attributes"})
    return web.Response(status=204)


def _delete(state: SalesforceState, sobject: str, record_id: str) -> web.Response:
    found = state.find(sobject, record_id)
    if found is None:
        if record_id[:15] in state.deleted:
            raise SalesforceError(404, "ENTITY_IS_DELETED", "entity is deleted")
        raise _not_found()
    del state.records[sobject][found["Id"]]
    state.deleted.add(found["Id"][:15])
    return web.Response(status=204)


def _collection(
    state: SalesforceState, request: web.Request, version: str, sobject_name: str
) -> web.Response:
    sobject = _sobject(sobject_name)
    ids_text = request.query.get("ids", "")
    ids = [i.strip() for i in ids_text.split(",") if i.strip()]
    if not ids:
        raise SalesforceError(
            400, "MALFORMED_QUERY", "The 'ids' parameter is required", violation=True
        )
    if len(request.raw_path) > MAX_URI_BYTES:
        raise SalesforceError(414, "URI_TOO_LONG", "URI Too Long", violation=True)
    fields = _fields_param(sobject, request.query.get("fields"), required=True)
    answer: list[dict[str, Any] | None] = []
    for record_id in ids:  # a malformed id, like one not found, is null in its place
        found = state.find(sobject, record_id) if ID_PATTERN.match(record_id) else None
        answer.append(None if found is None else _shape(sobject, found, fields, version))
    return _json(answer)


# --- SOQL ---------------------------------------------------------------------------------

SOQL = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<object>\w+)"
    r"(?:\s+WHERE\s+(?P<where>.+?))?"
    r"(?:\s+ORDER\s+BY\s+(?P<order>\w+)(?:\s+(?P<dir>ASC|DESC))?)?"
    r"(?:\s+LIMIT\s+(?P<limit>\d+))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
CONDITION = re.compile(
    r"^\s*(?P<field>\w+)\s*(?:=\s*(?P<value>'(?:[^'\\]|\\.)*'|\d+(?:\.\d+)?|null|true|false)"
    r"|\s+IN\s*\((?P<values>[^)]*)\))\s*$",
    re.IGNORECASE,
)


def _literal(text: str) -> Any:
    text = text.strip()
    if text.startswith("'"):
        return text[1:-1].replace("\\'", "'")
    lowered = text.lower()
    if lowered in ("null", "true", "false"):
        return {"null": None, "true": True, "false": False}[lowered]
    return float(text) if "." in text else int(text)


def _malformed(soql: str) -> SalesforceError:
    return SalesforceError(
        400, "MALFORMED_QUERY", f"unexpected token in query: {soql[:80]}", violation=True
    )


def run_soql(state: SalesforceState, soql: str) -> tuple[str, list[str], list[dict[str, Any]]]:
    """The sObject, selected fields and matching records of a query in the fake's subset."""
    match = SOQL.match(soql)
    if match is None:
        raise _malformed(soql)
    if match["object"] not in SOBJECTS:
        raise SalesforceError(
            400, "INVALID_TYPE", f"sObject type '{match['object']}' is not supported."
        )
    sobject = match["object"]
    known = _meta(sobject)
    fields = [f.strip() for f in match["fields"].split(",")]
    conditions: list[tuple[str, list[Any]]] = []
    if match["where"]:
        for part in re.split(r"\s+AND\s+", match["where"], flags=re.IGNORECASE):
            cond = CONDITION.match(part)
            if cond is None:
                raise _malformed(soql)
            if cond["values"] is not None:
                values = [_literal(v) for v in cond["values"].split(",") if v.strip()]
            else:
                values = [_literal(cond["value"])]
            conditions.append((cond["field"], values))
    for name in [
        *fields,
        *(c[0] for c in conditions),
        *([match["order"]] if match["order"] else []),
    ]:
        if name not in known:
            raise SalesforceError(
                400,
                "INVALID_FIELD",
                f"No such column '{name}' on entity '{sobject}'. If you are attempting to use "
                "a custom field, be sure to append the '__c' after the custom field name.",
            )
    rows = [
        r
        for r in state.records.get(sobject, {}).values()
        if all(r.get(name) in values for name, values in conditions)
    ]
    if match["order"]:
        rows.sort(
            key=lambda r: (r.get(match["order"]) is None, r.get(match["order"]) or 0),
            reverse=(match["dir"] or "").upper() == "DESC",
        )
    if match["limit"]:
        rows = rows[: int(match["limit"])]
    return sobject, fields, rows


def _batch_size(request: web.Request) -> int:
    options = request.headers.get("Sforce-Query-Options", "")
    size = re.search(r"batchSize=(\d+)", options)
    return max(200, min(2000, int(size[1]))) if size else 2000


def _query(state: SalesforceState, request: web.Request, version: str) -> web.Response:
    soql = request.query.get("q")
    if not soql:
        raise SalesforceError(
            400, "MALFORMED_QUERY", "A query string has to be specified", violation=True
        )
    sobject, fields, rows = run_soql(state, soql)
    shaped = [_shape(sobject, r, fields, version) for r in rows]
    locator = f"01g5g{hashlib.sha256(f'{soql}{len(state.cursors)}'.encode()).hexdigest()[:10]}"
    locator = to_18(locator.upper()[:15])
    state.cursors[locator] = (shaped, _batch_size(request))
    return _json(_batch(state, version, locator, 0))


def _query_more(state: SalesforceState, version: str, locator_text: str) -> web.Response:
    locator, _, offset = locator_text.rpartition("-")
    if locator not in state.cursors or not offset.isdigit():
        raise SalesforceError(
            400, "INVALID_QUERY_LOCATOR", "invalid query locator", violation=not locator
        )
    return _json(_batch(state, version, locator, int(offset)))


def _batch(state: SalesforceState, version: str, locator: str, offset: int) -> dict[str, Any]:
    rows, size = state.cursors[locator]
    page = rows[offset : offset + size]
    done = offset + size >= len(rows)
    answer: dict[str, Any] = {"totalSize": len(rows), "done": done, "records": page}
    if not done:
        answer["nextRecordsUrl"] = f"/services/data/v{version}/query/{locator}-{offset + size}"
    return answer


# --- the app ----------------------------------------------------------------------------------


async def _unknown(request: web.Request) -> web.Response:
    state: SalesforceState = request.app[STATE]
    _violation(state, request, "no such resource")
    return _json(
        [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}], 404
    )


def create_salesforce_app(state: SalesforceState) -> web.Application:
    """The fake org's login and instance endpoints in one app (its URL plays both)."""
    app = web.Application()
    app[STATE] = state
    app.router.add_post("/services/oauth2/token", _token)
    app.router.add_route("*", r"/services/data/{tail:.*}", _data)
    app.router.add_route("*", r"/{tail:.*}", _unknown)
    return app
