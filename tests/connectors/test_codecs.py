"""Request bodies out as JSON, form and XML; responses in from JSON, XML, form and text."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from connectql.connectors.codecs import decode_body, encode_body
from connectql.errors import BadResponse


def test_json_round_trip() -> None:
    body, content_type = encode_body({"a": [1, 2], "b": None}, "json")
    assert content_type == "application/json"
    assert decode_body(body, "application/json", None) == {"a": [1, 2], "b": None}
    assert decode_body(b'{"x": 1}', "application/vnd.github+json", None) == {"x": 1}


def test_form_flattens_nested_values_and_repeats_lists() -> None:
    body, content_type = encode_body(
        {"channel": "C1", "ok": True, "tags": ["a", "b"], "meta": {"k": "v & w"}, "skip": None},
        "form",
    )
    assert content_type == "application/x-www-form-urlencoded"
    assert parse_qsl(body.decode()) == [
        ("channel", "C1"),
        ("ok", "true"),
        ("tags", "a"),
        ("tags", "b"),
        ("meta[k]", "v & w"),
    ]
    decoded = decode_body(b"a=1&b=x+y&b=z", "application/x-www-form-urlencoded", None)
    assert decoded == {"a": "1", "b": ["x y", "z"]}


def test_xml_encode_and_decode() -> None:
    body, content_type = encode_body(
        {"@version": "2", "item": [{"name": "a"}, {"name": "b"}], "note": "x<y"},
        "xml",
        xml_root="order",
    )
    assert content_type == "application/xml"
    assert b'<order version="2"><item><name>a</name></item>' in body
    assert b"x&lt;y" in body
    decoded = decode_body(body, "application/xml", None)
    assert decoded == {
        "order": {"@version": "2", "item": [{"name": "a"}, {"name": "b"}], "note": "x<y"}
    }


def test_xml_namespaces_are_dropped_from_names() -> None:
    body = b'<r xmlns="urn:x"><a:b xmlns:a="urn:a">1</a:b></r>'
    assert decode_body(body, "text/xml", None) == {"r": {"b": "1"}}


def test_xml_with_a_dtd_is_refused() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;">]><r>&lol2;</r>'
    )
    with pytest.raises(BadResponse, match="DTD"):
        decode_body(bomb, "application/xml", None)


def test_malformed_bodies_are_bad_responses_that_do_not_echo_the_body() -> None:
    with pytest.raises(BadResponse) as caught:
        decode_body(b'{"token": "secret-123",', "application/json", None)
    assert "secret-123" not in str(caught.value)
    with pytest.raises(BadResponse, match="malformed XML"):
        decode_body(b"<a><b></a>", "application/xml", None)
    with pytest.raises(BadResponse, match="content type 'text/html'"):
        decode_body(b"<html></html>", "text/html", None)


def test_the_spec_format_overrides_the_content_type() -> None:
    assert decode_body(b'{"a": 1}', "text/plain", "json") == {"a": 1}
    assert decode_body(b"hello", "application/octet-stream", "text") == "hello"
    assert decode_body(b"plain words", "text/plain", None) == "plain words"
