"""`extends:` starts a spec from a prebuilt one and merges the file over it."""

from __future__ import annotations

import pytest

from connectql.connectors.builtin import builtin_spec
from connectql.errors import SpecErrors
from connectql.spec.loader import load_spec, load_spec_text

LOCAL = """
extends: {builtin: openai, omit: [operations.embedding, config.project, source.headers]}
connector: {name: local_llm}
config:
  base_url: {default: "http://127.0.0.1:8080/v1"}
source:
  timeout: {total: 600}
operations:
  chatCompletion:
    args: {seed: Int}
    request: {body: {seed: "{args.seed}"}}
"""


def test_the_file_is_merged_over_its_base() -> None:
    base = load_spec(builtin_spec("openai"))
    spec = load_spec_text(LOCAL, "local.yaml")
    assert spec.name == "local_llm"
    assert spec.connector.version == base.connector.version  # not overridden: inherited
    assert set(spec.operations) == set(base.operations) - {"embedding"}
    assert "project" not in spec.config
    assert spec.config["base_url"].default == "http://127.0.0.1:8080/v1"
    assert spec.config["base_url"].description == base.config["base_url"].description
    assert spec.source.timeout.total == 600  # type: ignore[union-attr]
    assert spec.source.timeout.connect == 10  # type: ignore[union-attr]
    chat = spec.operations["chatCompletion"]
    assert set(chat.args) == {*base.operations["chatCompletion"].args, "seed"}
    assert chat.request.body["seed"] == "{args.seed}"  # type: ignore[index]
    assert chat.request.body["model"] == "{args.model}"  # type: ignore[index]
    assert spec.source.errors == base.source.errors  # a list (429) and mappings, untouched
    assert spec.source.headers == {}


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        pytest.param(
            "extends: {builtin: nope}\nconnector: {name: x}\n",
            "spec.yaml:1:11 extends.builtin",
            "no prebuilt connector by that name",
            id="unknown-prebuilt",
        ),
        pytest.param(
            "extends: {builtin: openai, omit: [operations.nope]}\n",
            "spec.yaml:1:35 extends.omit[0]",
            "the base has no key operations.nope",
            id="omit-of-a-missing-key",
        ),
        pytest.param(
            "extends: ../openai/connector.yaml\n",
            "spec.yaml:1:1 extends",
            "(extends is {builtin: NAME, omit: [KEY, …]})",
            id="a-path-is-not-a-prebuilt-name",
        ),
        pytest.param(
            "extends: {builtin: ../github}\n",
            "spec.yaml:1:11 extends.builtin",
            "must be lower-case",
            id="no-path-traversal",
        ),
        pytest.param(
            "extends: {builtin: openai}\noperations: {models: {request: {method: FETCH}}}\n",
            "spec.yaml:2:",
            "operations.models.request.method",
            id="the-merged-spec-is-validated",
        ),
    ],
)
def test_a_wrong_extends_is_located(text: str, where: str, problem: str) -> None:
    with pytest.raises(SpecErrors) as caught:
        load_spec_text(text, "spec.yaml")
    message = str(caught.value)
    assert where in message, message
    assert problem in message or problem.lower() in message.lower(), message


def test_the_prebuilt_openrouter_extends_openai() -> None:
    text = builtin_spec("openrouter").read_text(encoding="utf-8")
    assert "extends:" in text
    assert "/chat/completions" not in text  # the request comes from the openai spec
    spec = load_spec(builtin_spec("openrouter"))
    assert spec.operations["chatCompletion"].request.path == "/chat/completions"
