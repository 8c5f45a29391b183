"""simple-salesforce, the most used Python client, driven at the Salesforce fake over HTTPS:
its requests pass the fake's checks, and they have the same shapes as the connector's."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import re
import ssl
from pathlib import Path
from typing import Any

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter
from simple_salesforce import Salesforce

from connectql.connectors.builtin import builtin_spec
from connectql.runtime import Runtime
from connectql.spec.loader import load_spec
from connectql.testing import FakeUpstream, RecordedRequest
from connectql.testing.fakes.salesforce import (
    CLIENT_ID,
    CLIENT_SECRET,
    JWT_BEARER,
    REFRESH_TOKEN,
    USERNAME,
    SalesforceState,
    create_salesforce_app,
)
from tests.support import execute, serving

SOQL = "SELECT Id, Name FROM Account"
LOGIN = "https://login.salesforce.com"
ID_SEGMENT = re.compile(r"^[A-Za-z0-9]{18}(-\d+)?$")


def self_signed(directory: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context for 127.0.0.1 and the certificate file a client trusts."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "fake-cert.pem", directory / "fake-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context, cert_file


def shape(request: RecordedRequest) -> tuple[str, str, tuple[str, ...], str | None]:
    """Method, path with ids and query locators as {id}, query keys, and a write's body type."""
    parts = ["{id}" if ID_SEGMENT.match(p) else p for p in request.path.rstrip("/").split("/")]
    body_type = request.headers.get("Content-Type") if request.method in ("POST", "PATCH") else None
    return request.method, "/".join(parts), tuple(sorted(request.query)), body_type


class LoginAtTheFake(HTTPAdapter):
    """Connects to the fake for https://login.salesforce.com, where simple-salesforce always
    signs in: a stand-in for name resolution; the request still crosses a real socket."""

    def __init__(self, fake_url: str) -> None:
        super().__init__()
        self.fake_url = fake_url

    def send(self, request: PreparedRequest, *args: Any, **kwargs: Any) -> Response:
        request.url = str(request.url).replace(LOGIN, self.fake_url, 1)
        return super().send(request, *args, **kwargs)


def drive_sdk(url: str, state: SalesforceState, cafile: Path, ids: list[str]) -> dict[str, Any]:
    """What a simple-salesforce user does, against the fake (blocking: run in a thread)."""
    with requests.Session() as session:
        session.trust_env = False  # no CA bundle or proxy from the environment
        session.verify = str(cafile)
        session.mount(LOGIN, LoginAtTheFake(url))
        sf = Salesforce(  # the JWT bearer flow, as simple-salesforce builds the assertion
            username=USERNAME,
            consumer_key=CLIENT_ID,
            privatekey=state.private_key_pem,
            version="59.0",
            session=session,
        )
        batch = {"Sforce-Query-Options": "batchSize=200"}
        listed = sf.query_all(SOQL, headers=batch)
        described = sf.Account.describe()
        collection = sf.restful(
            "composite/sobjects/Account", params={"ids": ",".join(ids), "fields": "Id,Name"}
        )
        created = sf.Account.create({"Name": "SDK Co", "Industry": "Energy"})
        updated = sf.Account.update(created["id"], {"BillingCity": "Oslo"})
        deleted = sf.Account.delete(created["id"])
        return {
            "records": len(listed["records"]),
            "fields": [f["name"] for f in described["fields"]],
            "collection": [r["Id"] for r in collection],
            "created": created,
            "updated": updated,
            "deleted": deleted,
            "usage": sf.api_usage["api-usage"],
        }


async def drive_connector(fake: FakeUpstream, ids: list[str]) -> dict[str, Any]:
    runtime = Runtime()
    config = {
        "login_url": fake.url,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": REFRESH_TOKEN,
    }
    runtime.add(load_spec(builtin_spec("salesforce")), config)
    lookups = "\n".join(
        f'r{i}: record(sobject: "Account", id: "{rid}", fields: ["Id", "Name"]) {{ id }}'
        for i, rid in enumerate(ids)
    )
    async with serving(runtime) as url:
        listed = await execute(
            url,
            f'{{ salesforce {{ query(soql: "{SOQL}", batchSize: 200, first: 1000) '
            "{ nodes { id } } } }",
        )
        described = await execute(
            url, '{ salesforce { describe(sobject: "Account") { fields { name } } } }'
        )
        collection = await execute(url, f"{{ salesforce {{ {lookups} }} }}")
        created = await execute(
            url,
            'mutation { salesforce { createRecord(sobject: "Account", '
            'fields: {Name: "GraphQL Co", Industry: "Energy"}) { id success } } }',
        )
        rid = created.data["salesforce"]["createRecord"]["id"]
        updated = await execute(
            url,
            f'mutation {{ salesforce {{ updateRecord(sobject: "Account", id: "{rid}", '
            'fields: {BillingCity: "Oslo"}) } }',
        )
        deleted = await execute(
            url, f'mutation {{ salesforce {{ deleteRecord(sobject: "Account", id: "{rid}") }} }}'
        )
    for result in (listed, described, collection, created, updated, deleted):
        assert result.errors is None, result.errors
    return {
        "records": len(listed.data["salesforce"]["query"]["nodes"]),
        "fields": [f["name"] for f in described.data["salesforce"]["describe"]["fields"]],
        "collection": [collection.data["salesforce"][f"r{i}"]["id"] for i in range(len(ids))],
    }


async def test_simple_salesforce_and_the_connector_send_the_same_requests(
    tmp_path: Path,
) -> None:
    context, cafile = self_signed(tmp_path)
    sdk_state, our_state = SalesforceState.seeded(), SalesforceState.seeded()
    ids = list(sdk_state.records["Account"])[:20]
    async with (
        FakeUpstream(create_salesforce_app(sdk_state), ssl_context=context) as sdk_fake,
        FakeUpstream(create_salesforce_app(our_state)) as our_fake,
    ):
        assert sdk_fake.url.startswith("https://")
        sdk_state.instance_url = sdk_fake.url
        sdk = await asyncio.wait_for(
            asyncio.to_thread(drive_sdk, sdk_fake.url, sdk_state, cafile, ids), timeout=60
        )
        ours = await drive_connector(our_fake, ids)

    assert sdk_state.violations == []
    assert [g.grant_type for g in sdk_state.grants] == [JWT_BEARER]
    assert our_state.violations == []
    assert sdk["records"] == ours["records"] == 450
    assert sdk["fields"] == ours["fields"]
    assert sdk["collection"] == ours["collection"] == ids
    assert sdk["created"]["success"] is True
    assert sdk["updated"] == sdk["deleted"] == 204
    # simple-salesforce parses the fake's Sforce-Limit-Info as it would a real org's
    assert sdk["usage"].total == sdk_state.api_limit
    assert 3 <= sdk["usage"].used <= sdk_state.api_usage  # as of its last Salesforce-level call

    data = "/services/data/"
    sdk_shapes = {shape(r) for r in sdk_fake.requests if r.path.startswith(data)}
    our_shapes = {shape(r) for r in our_fake.requests if r.path.startswith(data)}
    assert our_shapes == sdk_shapes, our_shapes ^ sdk_shapes
    for fake in (sdk_fake, our_fake):
        pages = [r for r in fake.requests if r.path.startswith(f"{data}v59.0/query")]
        assert len(pages) == 3  # the query, then nextRecordsUrl twice (200 + 200 + 50)
        assert {r.headers.get("Sforce-Query-Options") for r in pages} == {"batchSize=200"}
