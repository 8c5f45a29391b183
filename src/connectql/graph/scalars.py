"""Scalars beyond GraphQL's own: `Long`, a 64-bit signed integer.

`Long` is written as a JSON number while it is a safe integer (|n| ≤ 2^53 - 1, exact in
every JSON parser, JavaScript's included) and as a string of decimal digits beyond that, so
no client silently rounds an ID. It reads an Int literal, a string of digits, or a variable
holding either; the upstream may send a number or a string of digits (as APIs that follow
the protobuf JSON mapping do). Anything outside -2^63 … 2^63 - 1 is refused.
"""

from __future__ import annotations

import re
from math import isfinite
from typing import Any

from graphql import (
    GraphQLError,
    GraphQLScalarType,
    IntValueNode,
    StringValueNode,
    ValueNode,
    value_from_ast_untyped,
)

LONG_MIN = -(2**63)
LONG_MAX = 2**63 - 1
SAFE_INTEGER = 2**53 - 1
_DIGITS = re.compile(r"-?[0-9]+")


def _long(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and isfinite(value) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        number = int(value.strip())
    else:
        raise GraphQLError(f"Long cannot represent a non-integer {type(value).__name__}")
    if not LONG_MIN <= number <= LONG_MAX:
        raise GraphQLError("Long cannot represent a value beyond 64 bits")
    return number


def _output(value: Any) -> int | str:
    number = _long(value)
    return number if -SAFE_INTEGER <= number <= SAFE_INTEGER else str(number)


def _literal(node: ValueNode) -> int:
    if isinstance(node, (IntValueNode, StringValueNode)):
        return _long(node.value)
    raise GraphQLError("Long cannot represent a non-integer literal")


def _to_literal(value: Any) -> IntValueNode | None:
    try:
        return IntValueNode(value=str(_long(value)))
    except GraphQLError:
        return None


GraphQLLong = GraphQLScalarType(
    "Long",
    description=(
        "A 64-bit signed integer: a JSON number up to ±(2^53 - 1), a string of digits beyond "
        "(JSON numbers past 2^53 lose precision in many clients). Input: a number or a "
        "string of digits."
    ),
    coerce_output_value=_output,
    coerce_input_value=_long,
    coerce_input_literal=_literal,
    value_to_literal=_to_literal,
)


def _identity(value: Any) -> Any:
    return value


def _any_literal(node: ValueNode, variables: Any = None) -> Any:
    return value_from_ast_untyped(node, variables)


def passthrough_scalar(name: str, description: str) -> GraphQLScalarType:
    """A scalar whose values pass as they are, any JSON (`JSON`, federation's `_Any`)."""
    return GraphQLScalarType(
        name,
        description=description,
        serialize=_identity,
        parse_value=_identity,
        parse_literal=_any_literal,
    )
