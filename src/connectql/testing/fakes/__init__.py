"""Fakes of real services, each an aiohttp app to serve with `connectql.testing.FakeUpstream`."""
