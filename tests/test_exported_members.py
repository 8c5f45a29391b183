"""What users import from `connectql` is a deliberate, sorted list."""

import connectql


def test_all_is_sorted_and_complete() -> None:
    assert connectql.__all__ == sorted(connectql.__all__)
    public = {name for name in dir(connectql) if not name.startswith("_")}
    modules = {
        "api",
        "builder",
        "cli",
        "config",
        "connectors",
        "control",
        "demo",
        "errors",
        "events",
        "graph",
        "logs",
        "registry",
        "resolvers",
        "runtime",
        "server",
        "spec",
        "state",
        "testing",
        "types",
    }
    assert public - modules == set(connectql.__all__)
    for name in connectql.__all__:
        assert getattr(connectql, name).__module__.startswith("connectql.")
