"""Request bodies out (JSON, form, XML, multipart) and response bodies in (JSON, XML, form,
text).

XML is parsed by defusedxml with DTDs forbidden, so entity expansion and external entities
cannot happen. Decoding failures raise BadResponse and never include the
body itself (it may carry data the client must not see).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import parse_qs, urlencode

import orjson
from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import fromstring as parse_xml

from connectql.connectors.files import encode_multipart
from connectql.errors import BadResponse

JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"
XML_TYPE = "application/xml"
TEXT_TYPE = "text/plain; charset=utf-8"


# --- encoding -------------------------------------------------------------------------


def encode_body(value: Any, fmt: str, xml_root: str = "request") -> tuple[bytes, str]:
    """Serialise a rendered request body; return the bytes and their Content-Type."""
    if fmt == "json":
        return orjson.dumps(value), JSON_TYPE
    if fmt == "form":
        return urlencode(_form_pairs(value, "")).encode(), FORM_TYPE
    if fmt == "xml":
        root = ET.Element(xml_root)
        _fill_element(root, value)
        return ET.tostring(root, encoding="utf-8", xml_declaration=True), XML_TYPE
    if fmt == "multipart":
        return encode_multipart(value)
    if fmt == "text":
        return _scalar_text(value).encode(), TEXT_TYPE
    raise ValueError(f"unknown body format {fmt!r}")


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _form_pairs(value: Any, prefix: str) -> list[tuple[str, str]]:
    """Flatten nested values the common way: `a[b]=1`, and repeated keys for lists."""
    if isinstance(value, dict):
        pairs: list[tuple[str, str]] = []
        for key, item in value.items():
            if item is None:
                continue
            pairs.extend(_form_pairs(item, f"{prefix}[{key}]" if prefix else str(key)))
        return pairs
    if isinstance(value, list):
        return [pair for item in value for pair in _form_pairs(item, prefix)]
    if not prefix:
        raise ValueError("a form body must be a mapping")
    return [(prefix, _scalar_text(value))]


def _fill_element(element: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key.startswith("@"):
                element.set(key[1:], _scalar_text(item))
                continue
            for one in item if isinstance(item, list) else [item]:
                _fill_element(ET.SubElement(element, key), one)
    else:
        element.text = _scalar_text(value)


# --- decoding -------------------------------------------------------------------------


def decode_body(body: bytes, content_type: str, fmt: str | None) -> Any:
    """Parse a response body by the spec's `format`, or else by its Content-Type."""
    kind = fmt or _kind_of(content_type)
    try:
        if kind == "json":
            return orjson.loads(body)
        if kind == "xml":
            return _decode_xml(body)
        if kind == "form":
            return _decode_form(body.decode("utf-8"))
        return body.decode("utf-8")
    except (orjson.JSONDecodeError, ET.ParseError, UnicodeDecodeError) as exc:
        raise BadResponse(
            f"the upstream sent a malformed {kind.upper()} body ({type(exc).__name__})"
        ) from None


def _kind_of(content_type: str) -> str:
    if not content_type or "json" in content_type:
        return "json"
    if "xml" in content_type:
        return "xml"
    if content_type == FORM_TYPE:
        return "form"
    if content_type == "text/plain":
        return "text"
    raise BadResponse(
        f"the upstream sent content type {content_type!r}; expected JSON, XML or form "
        "(set response.format to override)"
    )


def _decode_form(text: str) -> dict[str, Any]:
    parsed = parse_qs(text, keep_blank_values=True)
    return {k: v[0] if len(v) == 1 else v for k, v in parsed.items()}


def _decode_xml(body: bytes) -> dict[str, Any]:
    try:
        root = parse_xml(body, forbid_dtd=True)
    except (DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden):
        raise BadResponse("the upstream sent XML with a DTD, which is refused") from None
    return {_local(root.tag): _element_value(root)}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _element_value(element: ET.Element) -> Any:
    """Children become keys (repeated ones a list), attributes `@name`, text `#text`."""
    children = list(element)
    text = (element.text or "").strip()
    if not children and not element.attrib:
        return text or None
    out: dict[str, Any] = {f"@{_local(k)}": v for k, v in element.attrib.items()}
    for child in children:
        key = _local(child.tag)
        value = _element_value(child)
        if key in out:
            existing = out[key]
            if isinstance(existing, list):
                existing.append(value)
            else:
                out[key] = [existing, value]
        else:
            out[key] = value
    if text:
        out["#text"] = text
    return out
