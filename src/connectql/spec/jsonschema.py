"""The connector spec as a JSON Schema, for editors and other tools.

The committed copy, `connector-spec.schema.json` beside this module, is regenerated with
`python -m connectql.spec.jsonschema`; a test fails when it drifts from the models.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from connectql.spec.models import ConnectorSpec, Extends

SCHEMA_FILE = Path(__file__).with_name("connector-spec.schema.json")
SCHEMA_ID = "https://connectql.dev/schemas/connector-spec-v1.json"


def spec_json_schema() -> dict[str, Any]:
    schema = ConnectorSpec.model_json_schema(by_alias=True, mode="validation")
    # the loader merges `extends` away before validating; editors still need to know it
    extends = Extends.model_json_schema(by_alias=True, mode="validation")
    schema["$defs"]["Extends"] = extends
    schema["properties"] = {"extends": {"$ref": "#/$defs/Extends"}, **schema["properties"]}
    required = schema.pop("required", [])
    schema["if"] = {"required": ["extends"]}
    schema["then"] = {}
    schema["else"] = {"required": required}  # an extending spec may inherit any section
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def render() -> str:
    return json.dumps(spec_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write() -> bool:
    """Rewrite the committed copy if it drifted (atomically: readers never see half a file);
    whether it changed."""
    text = render()
    if SCHEMA_FILE.read_text(encoding="utf-8") == text:
        return False
    partial = SCHEMA_FILE.with_suffix(".json.tmp")
    partial.write_text(text, encoding="utf-8")
    partial.replace(SCHEMA_FILE)
    return True


if __name__ == "__main__":
    import sys

    if "--check" in sys.argv[1:]:  # CI and tests: say whether it drifted, write nothing
        drifted = SCHEMA_FILE.read_text(encoding="utf-8") != render()
        print(f"{'drifted:' if drifted else 'unchanged:'} {SCHEMA_FILE}")
        sys.exit(1 if drifted else 0)
    print(f"{'wrote' if write() else 'unchanged:'} {SCHEMA_FILE}")
