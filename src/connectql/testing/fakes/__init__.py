"""Fakes of real services, each an aiohttp app to run in `connectql.testing.FakeUpstream`."""
