"""The builder: OpenAPI import, type inference, fixture tests, client and docs generation."""
