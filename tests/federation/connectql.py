"""connectql as a federation subgraph in these tests: `connectql serve --config … --stateless`
over one connector spec of tests/fakes/data (tracker or chat), federation on, an API key
required (the gateway sends it).

    process = await serve_connector(processes, folder, "tracker", upstream, TRACKER_TOKEN)
    Subgraph(f"{process.url}/graphql", headers={"Authorization": f"Bearer {KEYS['tracker']}"})
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from connectql.testing import FakeUpstream
from tests.processes import Processes, ServeProcess

DATA = Path(__file__).parent.parent / "fakes" / "data"
KEYS = {"tracker": "tracker-gateway-key-0123456789", "chat": "chat-gateway-key-0123456789"}
"""Each connectql process's API key: the gateway sends it, introspection included."""


def config(connector: str, upstream: str, token_variable: str) -> dict[str, Any]:
    """connectql.yaml of one subgraph process: its connector, federation on, keys required."""
    return {
        "server": {"anonymous": "none"},
        "federation": {"enabled": True},
        "connectors": [
            {
                "spec": str(DATA / f"{connector}.yaml"),
                "config": {"base_url": upstream, "token": f"{{env.{token_variable}}}"},
            }
        ],
    }


async def serve_connector(
    processes: Processes | None,
    folder: Path,
    connector: str,
    upstream: FakeUpstream,
    token: str,
) -> ServeProcess:
    """`connectql serve --config … --stateless` for one connector, ready (without
    `processes`, the caller stops it)."""
    folder.mkdir(parents=True, exist_ok=True)
    variable = f"{connector.upper()}_TOKEN"
    file = folder / "connectql.yaml"
    file.write_text(yaml.safe_dump(config(connector, upstream.url, variable)))
    env = {variable: token, "CONNECTQL_API_KEYS": f"viewer:{KEYS[connector]}"}
    args = ("--config", str(file), "--stateless")
    process = (
        processes.serve(folder, *args, env=env)
        if processes is not None
        else ServeProcess(folder, *args, env=env)
    )
    return await process.start()
