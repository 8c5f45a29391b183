"""Fakes of the services prebuilt connectors call, each a module with a `create_*_app(state)`
to run on `connectql.testing.FakeUpstream`."""
