"""connectql.yaml: which connector specs the server runs, with what config.

    server: {host: 127.0.0.1, port: 8000}
    hooks: [mycompany.connectql_hooks]        # modules with register(hooks)
    connectors:
      - spec: specs/github.yaml               # relative to this file
        config:
          token: "{env.GITHUB_TOKEN}"         # secrets come from the environment

`{env.NAME}` is allowed here only; a missing variable is an error naming it and where.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from connectql.errors import ConfigError, SpecError
from connectql.graph.joins import Link, dotted
from connectql.graph.limits import Limits
from connectql.spec.loader import SPEC_LIMITS, check_text
from connectql.spec.marks import yaml_marks
from connectql.spec.templates import parse_template


class CorsSettings(BaseModel):
    """Browser pages on these origins may call /graphql and the REST API."""

    model_config = ConfigDict(extra="forbid")

    origins: list[str] = []
    """Exact origins, e.g. `https://app.example.com`; `*` for any."""
    credentials: bool = False
    """Let pages send cookies; API keys travel in headers, so only a cookie-based setup
    needs it."""
    max_age: int = Field(600, ge=0)
    """Seconds a browser may reuse a preflight answer."""

    @model_validator(mode="after")
    def _no_credentials_for_anyone(self) -> CorsSettings:
        if self.credentials and "*" in self.origins:
            raise ValueError("credentials: true needs the origins listed, not *")
        return self


class TimeoutSettings(BaseModel):
    """Seconds a client may stay idle before the server closes its connection."""

    model_config = ConfigDict(extra="forbid")

    keep_alive: int = Field(5, ge=1)
    """An HTTP connection between requests."""
    headers: float = Field(10.0, gt=0)
    """From connecting (or the previous response) to the end of a request's headers."""
    body: float = Field(30.0, gt=0)
    """Between two parts of a request body."""
    ws_init: float = Field(10.0, gt=0)
    """From a WebSocket's opening to its `connection_init` message."""
    ws_ping_interval: float = Field(20.0, gt=0)
    """How often the server pings an open WebSocket..."""
    ws_ping_timeout: float = Field(20.0, gt=0)
    """...and how long it waits for the pong before closing it as dead."""


class ServerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    graphiql: bool = True
    anonymous: Literal["viewer", "none"] = "viewer"
    """What a request without an API key may do: query data (viewer) or nothing."""
    public: list[Literal["metrics", "docs"]] = []
    """Endpoints served without an API key even when `anonymous` is `none` (`docs`: /docs
    and /openapi.json). /healthz and /readyz are always public."""
    cors: CorsSettings | None = None
    """Off by default: browsers then refuse pages of other origins."""
    timeouts: TimeoutSettings = TimeoutSettings()
    workers: Annotated[int, Field(ge=1)] | Literal["auto"] = 1
    """Server processes sharing the port (`auto`: one per CPU this process may use);
    `--workers` and CONNECTQL_WORKERS win over this."""


class RegistrySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = None
    """SQLAlchemy URL; DATABASE_URL wins; default: SQLite `connectql.db` beside this file."""
    key_file: str = "connectql.key"
    """Fernet key for secrets at rest when CONNECTQL_SECRET_KEY is unset (created 0600)."""
    channel_prefix: str = "connectql:"
    """Redis pub/sub channel prefix (REDIS_URL): replicas of one deployment share it."""
    reconcile_seconds: float = Field(5.0, ge=0.1, le=3600)
    """How often a replica checks the registry's change counts (a cheap query) and catches up
    with changes whose events it missed, e.g. while Redis was away."""


class BuilderSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    output_dir: str | None = None
    """Where generateClient/generateDocs write without dryRun (relative to this file)."""


class EgressSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    allow: list[str] = []
    """IPs, CIDRs or host names that connectors created at run time (and builder fetches)
    may reach even though they are private, loopback or link-local."""


class FederationSettings(BaseModel):
    """Serve the connectors as an Apollo Federation v2 subgraph too."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    """Adds `_service` and `_entities` (types with `key` and `lookup` are entities)."""


class ConnectorEntry(BaseModel):
    """One connector: a spec file of yours, or a prebuilt one by name (`builtin: github`)."""

    model_config = ConfigDict(extra="forbid")

    spec: str | None = None
    builtin: str | None = None
    config: dict[str, Any] = {}
    enabled: bool = True

    @model_validator(mode="after")
    def _one_source(self) -> ConnectorEntry:
        if (self.spec is None) == (self.builtin is None):
            raise ValueError("give exactly one of spec (a file) or builtin (a prebuilt name)")
        return self


class AppConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    server: ServerSettings = ServerSettings()
    egress: EgressSettings = EgressSettings()
    builder: BuilderSettings = BuilderSettings()
    federation: FederationSettings = FederationSettings()
    limits: Limits = Limits()
    registry: RegistrySettings = RegistrySettings()
    hooks: list[str] = []
    connectors: list[ConnectorEntry] = []
    links: list[Link] = []
    """Joins between the connectors above (graph/joins.py)."""
    base_dir: Path = Path(".")
    """Directory that relative spec paths are resolved against (the config file's)."""
    _file: str = PrivateAttr("connectql.yaml")
    _marks: dict[tuple[str | int, ...], tuple[int, int]] = PrivateAttr(default_factory=dict)

    def where(self, loc: tuple[str | int, ...]) -> str:
        """`connectql.yaml:14:7 links[0].operation`: the file, line and column of a key."""
        mark = next(
            (self._marks[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in self._marks), None
        )
        at = f"{self._file}:{mark[0]}:{mark[1]}" if mark else self._file
        return f"{at} {dotted(loc)}"

    def spec_path(self, entry: ConnectorEntry) -> Path:
        if entry.builtin is not None:
            from connectql.connectors.builtin import builtin_spec

            return builtin_spec(entry.builtin)
        assert entry.spec is not None
        path = Path(entry.spec)
        return path if path.is_absolute() else self.base_dir / path


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> AppConfig:
    """Read connectql.yaml and fill `{env.X}` placeholders from `env` (default os.environ)."""
    file = Path(path)
    try:
        with file.open(encoding="utf-8") as stream:  # no more than the limit, whatever the file
            text = stream.read(SPEC_LIMITS.max_bytes + 1)
        check_text(text, str(file))  # size, nesting and aliases, before building anything
        raw = yaml.safe_load(text) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read {file}: {exc.strerror}") from None
    except SpecError as exc:
        raise ConfigError(str(exc)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        raise ConfigError(f"{file}{where}: not valid YAML") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{file}: not UTF-8 text") from None
    except ValueError:  # a value YAML reads but cannot build, e.g. the date 2024-02-30
        raise ConfigError(f"{file}: a value is not valid YAML (quote it if it is text)") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: the top level must be a mapping")
    # links' templates read `{parent.X}` when served, not the environment now
    links = raw.pop("links", None)
    filled = fill_env(raw, os.environ if env is None else env, file.name, ())
    if links is not None:
        filled["links"] = links
    marks = yaml_marks(text) if links is not None else {}
    try:
        config = AppConfig.model_validate({**filled, "base_dir": file.parent})
    except ValidationError as exc:
        problems = [(tuple(e["loc"]), e["msg"]) for e in exc.errors()]
        if all(loc[:1] == ("links",) for loc, _ in problems):  # each at its line
            located = AppConfig()
            located._file, located._marks = str(file), marks
            raise ConfigError(
                "\n".join(f"{located.where(loc)}: {message}" for loc, message in problems)
            ) from None
        joined = "; ".join(f"{'.'.join(str(p) for p in loc)}: {m}" for loc, m in problems)
        raise ConfigError(f"{file}: {joined}") from None
    config._file, config._marks = str(file), marks
    return config


def fill_env(value: Any, env: Mapping[str, str], file: str, where: tuple[Any, ...]) -> Any:
    """`value` with every `{env.NAME}` filled from `env`; an unset NAME is a ConfigError
    naming it and where (`file` and the keys `where`). Also fills `connectql test --set`."""
    if isinstance(value, dict):
        return {k: fill_env(v, env, file, (*where, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [fill_env(v, env, file, (*where, i)) for i, v in enumerate(value)]
    if not isinstance(value, str) or "{" not in value:
        return value
    location = f"{file} {'.'.join(str(p) for p in where)}"
    try:
        template = parse_template(value)
    except ValueError:
        # the parser quotes the text, which may be a secret: say what is wrong, not the value
        raise ConfigError(
            f"{location}: a brace that is not an {{env.NAME}} placeholder "
            "(write {{ and }} for literal braces)"
        ) from None
    for placeholder in template.placeholders:
        if placeholder.namespace == "request":  # a caller's header: per call, in a spec
            raise ConfigError(
                f"{location}: {{request…}} is read only by a connector spec's source and "
                "request templates (source.forward_headers); here only {env.NAME} is allowed"
            )
        if placeholder.namespace != "env":
            raise ConfigError(f"{location}: only {{env.NAME}} placeholders are allowed here")
        name = placeholder.path.text
        if name not in env:
            raise ConfigError(f"{location}: environment variable {name} is not set")
    return template.render({"env": env})
