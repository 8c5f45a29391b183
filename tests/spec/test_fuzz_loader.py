"""Property: whatever text comes in, `load_spec_text` returns a spec or raises SpecErrors whose
every error has a line, never another exception, and it does not hang. The texts: random
YAML-ish and JSON texts, and random mutations (of the text, and of its data) of the demo
spec and the prebuilt connectors' specs."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectql.connectors.builtin import builtin_names, builtin_spec
from connectql.demo.runner import BOOKSTORE_SPEC
from connectql.errors import SpecErrors
from connectql.spec.loader import load_spec_text
from connectql.spec.models import ConnectorSpec

HANGS = 5.0
"""Seconds no load comes near (the largest spec here loads in ~50 ms)."""
SPECS: dict[str, str] = {
    "bookstore": BOOKSTORE_SPEC.read_text(),
    **{name: builtin_spec(name).read_text() for name in builtin_names()},
}
HUNT = os.environ.get("CONNECTQL_FUZZ_EXAMPLES")
"""e.g. 5000: a longer run with fresh random examples, to hunt."""
FUZZ = settings(
    max_examples=int(HUNT or 150),
    derandomize=HUNT is None,  # the same examples every time: a test run never flakes
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def loads_or_is_located(text: str, filename: str = "fuzz.yaml") -> ConnectorSpec | None:
    started = time.perf_counter()
    try:
        return load_spec_text(text, filename)
    except SpecErrors as exc:
        unlocated = [str(e) for e in exc.errors if e.location.line is None]
        assert unlocated == [], unlocated
        return None
    finally:
        assert time.perf_counter() - started < HANGS


YAML_SYNTAX = "&*[]{}:,-?!|>'\"#%@`<=~ \n\t\\"
yaml_ish = st.text(
    alphabet=st.one_of(
        st.sampled_from(YAML_SYNTAX),
        st.sampled_from("abcxyz019_.eE+"),
        st.characters(codec="utf-8"),
    ),
    max_size=200,
)
tokens = st.sampled_from(
    [
        "a: ",
        "- ",
        "  ",
        "\n",
        "&a ",
        "*a",
        "<<: ",
        "!!int ",
        "!!binary ",
        "!x ",
        "? ",
        "[",
        "]",
        "{",
        "}",
        ", ",
        "|\n  ",
        ">-\n  ",
        "'",
        '"',
        "---\n",
        "...\n",
        "%YAML 1.1\n",
        "2024-02-30",
        "0x1F",
        "1e999",
        ".nan",
        "~",
        "=",
        "connector: {name: x}\n",
        "spec_version: 1\n",
        "operations:\n",
        "types:\n",
    ]
)
token_texts = st.lists(tokens, max_size=40).map("".join)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=30,
)


@settings(FUZZ, max_examples=int(HUNT or 600))  # cheap: mostly syntax errors
@given(text=st.one_of(yaml_ish, token_texts))
def test_random_yaml(text: str) -> None:
    loads_or_is_located(text)


@FUZZ
@given(value=json_values)
def test_random_json(value: Any) -> None:
    loads_or_is_located(json.dumps(value), "fuzz.json")


@st.composite
def text_mutations(draw: st.DrawFn) -> str:
    """A prebuilt spec with characters or lines cut, repeated, inserted or re-indented."""
    text = SPECS[draw(st.sampled_from(sorted(SPECS)))]
    for _ in range(draw(st.integers(1, 4))):
        lines = text.split("\n")
        at = draw(st.integers(0, max(0, len(text) - 1)))
        row = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.sampled_from(["cut", "insert", "replace", "line", "indent", "swap"]))
        if kind == "cut":
            text = text[:at] + text[at + draw(st.integers(1, 40)) :]
        elif kind == "insert":
            text = text[:at] + draw(st.one_of(tokens, yaml_ish)) + text[at:]
        elif kind == "replace":
            text = text[:at] + draw(st.sampled_from(YAML_SYNTAX)) + text[at + 1 :]
        elif kind == "line":
            lines.insert(row, lines[row])
            text = "\n".join(lines)
        elif kind == "indent":
            lines[row] = " " * draw(st.integers(0, 8)) + lines[row].lstrip()
            text = "\n".join(lines)
        else:
            other = draw(st.integers(0, len(lines) - 1))
            lines[row], lines[other] = lines[other], lines[row]
            text = "\n".join(lines)
    return text


@FUZZ
@given(text=text_mutations())
def test_mutated_spec_texts(text: str) -> None:
    loads_or_is_located(text)


def _places(data: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value in `data`."""
    found = [path]
    if isinstance(data, dict):
        for key, value in data.items():
            found += _places(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += _places(value, (*path, index))
    return found


@st.composite
def data_mutations(draw: st.DrawFn) -> str:
    """A prebuilt spec whose data had values replaced by others of any type, keys removed,
    or parts copied elsewhere: well-formed YAML, so the models and checks get the work."""
    data = yaml.safe_load(SPECS[draw(st.sampled_from(sorted(SPECS)))])
    for _ in range(draw(st.integers(1, 4))):
        places = [p for p in _places(data) if p]
        *parents, last = draw(st.sampled_from(places))
        parent = data
        for part in parents:
            parent = parent[part]
        kind = draw(st.sampled_from(["value", "remove", "copy"]))
        if kind == "remove":
            del parent[last]
        elif kind == "value":
            parent[last] = draw(json_values | st.sampled_from(["{", "{args.x}", "[Book!]!", ""]))
        else:
            parent[last] = _get(data, draw(st.sampled_from(places)))
    return yaml.safe_dump(data, sort_keys=False)


def _get(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        data = data[part]
    return json.loads(json.dumps(data))  # a copy, not a shared node


@FUZZ
@given(text=data_mutations())
def test_mutated_spec_data(text: str) -> None:
    loads_or_is_located(text)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_the_unmutated_specs_load(name: str) -> None:
    assert loads_or_is_located(SPECS[name], f"{name}.yaml") is not None


def test_a_brace_in_the_api_key_header_name_is_located() -> None:
    """Found by test_mutated_spec_data: checks read every string under `source` as a
    template, while the models check only some (ApiKeyAuth.key, not .name)."""
    text = SPECS["bookstore"].replace("name: X-Api-Key", "name: '{'")
    assert text != SPECS["bookstore"]
    assert loads_or_is_located(text) is None
