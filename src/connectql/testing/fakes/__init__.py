"""Fakes of real services for tests, one module each (import the one you need)."""
