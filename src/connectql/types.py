"""Shared type aliases. This module imports nothing from the package."""

from __future__ import annotations

from typing import Any, TypeAlias

JSON: TypeAlias = Any
"""A value decoded from JSON, XML or form data: dict, list, str, int, float, bool or None."""

JSONObject: TypeAlias = dict[str, Any]
