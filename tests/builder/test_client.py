"""The typed client generator: a package for the bookstore run against its fake upstream,
byte-stable output and --check, hostile specs that must not become code, prebuilt specs."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from contextlib import aclosing
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from connectql.builder.client import (
    RUNTIME_MODULE,
    check_client,
    class_name,
    docstring,
    generate_client,
    member_name,
    py_string,
    snake_name,
    write_client,
)
from connectql.connectors.builtin import HERE as BUILTIN_DIR
from connectql.demo.runner import BOOKSTORE_SPEC
from connectql.demo.upstream import create_bookstore_app
from connectql.spec.loader import load_spec, load_spec_text
from connectql.spec.models import (
    ConnectorInfo,
    ConnectorSpec,
    EnumType,
    FieldSpec,
    ObjectType,
    Operation,
    ResponseSpec,
    Source,
)
from connectql.testing import FakeClock, FakeUpstream, Fault

KEY = "client-key-0123456789"
BUILTIN_SPECS = sorted(BUILTIN_DIR.glob("*/connector.yaml"))
HAS_RUFF = importlib.util.find_spec("ruff") is not None


@pytest.fixture
def import_package(tmp_path: Path) -> Iterator[Any]:
    """Write generated files under tmp_path and import the package; forget it afterwards."""
    imported: list[str] = []

    def load(files: dict[str, str]) -> ModuleType:
        write_client(files, tmp_path)
        package = next(iter(files)).split("/")[0]
        imported.append(package)
        importlib.invalidate_caches()
        return importlib.import_module(package)

    sys.path.insert(0, str(tmp_path))
    try:
        yield load
    finally:
        sys.path.remove(str(tmp_path))
        for name in list(sys.modules):
            if name.split(".")[0] in imported:
                del sys.modules[name]


# --- the bookstore, end to end ----------------------------------------------------------


async def test_bookstore_client_against_the_fake_upstream(import_package: Any) -> None:
    bookstore = import_package(generate_client(load_spec(BOOKSTORE_SPEC)))
    async with (
        FakeUpstream(create_bookstore_app(KEY)) as upstream,
        bookstore.BookstoreClient({"base_url": upstream.url, "api_key": KEY}) as client,
    ):
        book = await client.book("7")
        assert isinstance(book, bookstore.Book)
        assert (book.id_, book.title, book.author_id) == ("7", "Book 7", "8")  # from: author_id
        assert book.genre is bookstore.Genre.HISTORY
        assert book.tags == ["tag0", "tag2"]
        assert book.model_dump(by_alias=True)["authorId"] == "8"
        assert await client.book("9999") is None  # errors: {"404": null}

        upstream.reset()
        books = [b async for b in client.books()]
        assert [b.id_ for b in books] == [str(i) for i in range(1, 241)]
        assert upstream.count("GET", "/books") == 5  # 240 books, 50 a page, Link headers

        upstream.reset()
        poetry = [b async for b in client.books(genre=bookstore.Genre.POETRY)]
        assert len(poetry) == 60
        assert {b.genre for b in poetry} == {bookstore.Genre.POETRY}
        assert upstream.count("GET", "/books") == 2
        assert upstream.requests[0].query["genre"] == "poetry"

        upstream.reset()
        async with aclosing(client.books()) as pages:
            first = await anext(pages)
        assert first.id_ == "1"
        assert upstream.count() == 1  # pages are fetched only as they are needed

        upstream.reset()
        new = bookstore.BookInput(title="New", author_id="3", genre=bookstore.Genre.NON_FICTION)
        created = await client.create_book(new)
        assert isinstance(created, bookstore.Book)
        assert (created.id_, created.title, created.author_id) == ("241", "New", "3")
        assert created.genre is bookstore.Genre.NON_FICTION
        sent = upstream.requests[0]
        assert (sent.method, sent.path) == ("POST", "/books")
        assert sent.json() == {"title": "New", "author_id": "3", "genre": "non-fiction"}
        assert sent.headers["X-Api-Key"] == KEY  # the runtime's auth

        author = await client.author("3")
        assert isinstance(author, bookstore.Author)
        assert not hasattr(author, "books")  # links are not part of the record
        assert [b.id_ async for b in client.books_by_author("3")][:2] == ["2", "42"]


async def test_calls_run_on_the_runtime_with_retries(import_package: Any) -> None:
    bookstore = import_package(generate_client(load_spec(BOOKSTORE_SPEC)))
    clock = FakeClock()
    async with (
        FakeUpstream(create_bookstore_app(KEY)) as upstream,
        bookstore.BookstoreClient(
            {"base_url": upstream.url, "api_key": KEY}, clock=clock
        ) as client,
    ):
        upstream.faults.add(Fault(status=503), times=1)
        book = await client.book("7")
        assert book is not None
        assert book.id_ == "7"
        assert upstream.count("GET", "/books/7") == 2  # the 503 was retried
        assert len(clock.sleeps) == 1  # after a backoff on the client's clock


def test_bookstore_package_layout() -> None:
    files = generate_client(load_spec(BOOKSTORE_SPEC))
    assert sorted(files) == [
        "bookstore_client/__init__.py",
        "bookstore_client/_runtime.py",
        "bookstore_client/client.py",
        "bookstore_client/models.py",
        "bookstore_client/py.typed",
        "bookstore_client/spec.json",
    ]
    client = files["bookstore_client/client.py"]
    assert "async def book(self, id_: str) -> Book | None:" in client
    assert "def books(self, *, genre: Genre | None = None) -> AsyncIterator[Book]:" in client
    assert "async def create_book(self, input_: BookInput) -> Book:" in client
    models = files["bookstore_client/models.py"]
    assert 'NON_FICTION = "non-fiction"' in models
    assert 'author_id: str = Field(alias="authorId")' in models
    assert "author:" not in models  # a link field
    shipped = load_spec_text(files["bookstore_client/spec.json"])
    assert shipped == load_spec(BOOKSTORE_SPEC)
    assert list(generate_client(load_spec(BOOKSTORE_SPEC), "shop")) == [
        p.replace("bookstore_client", "shop") for p in files
    ]


@pytest.mark.parametrize("package", ["", "1abc", "import", "my-client", "naïve", "a/b"])
def test_package_must_be_an_identifier(package: str) -> None:
    with pytest.raises(ValueError, match="package name"):
        generate_client(load_spec(BOOKSTORE_SPEC), package or "-")


# --- determinism and --check ------------------------------------------------------------


def test_regenerating_is_byte_identical_and_check_finds_changes(tmp_path: Path) -> None:
    files = generate_client(load_spec(BOOKSTORE_SPEC))
    assert generate_client(load_spec(BOOKSTORE_SPEC)) == files
    assert check_client(files, tmp_path) == sorted(files)  # nothing written yet

    write_client(files, tmp_path)
    assert check_client(files, tmp_path) == []
    for path, text in files.items():
        assert (tmp_path / path).read_bytes() == text.encode()

    package = tmp_path / "bookstore_client"
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "models.cpython-311.pyc").write_bytes(b"cache")
    assert check_client(files, tmp_path) == []  # caches are not the generator's business

    (package / "models.py").write_text((package / "models.py").read_text() + "# edited\n")
    (package / "spec.json").unlink()
    (package / "old_module.py").write_text("")
    assert check_client(files, tmp_path) == [
        "bookstore_client/models.py",
        "bookstore_client/old_module.py",
        "bookstore_client/spec.json",
    ]

    write_client(files, tmp_path)
    assert check_client(files, tmp_path) == []
    assert not (package / "old_module.py").exists()
    assert (package / "__pycache__" / "models.cpython-311.pyc").exists()


def test_output_does_not_depend_on_hash_seed(tmp_path: Path) -> None:
    script = (
        "import sys; from connectql.builder.client import generate_client, write_client; "
        "from connectql.spec.loader import load_spec; from pathlib import Path; "
        "write_client(generate_client(load_spec(sys.argv[1])), Path(sys.argv[2]))"
    )
    spec = BUILTIN_DIR / "github" / "connector.yaml"
    for seed in ("1", "2"):
        out = tmp_path / seed
        env = {"PYTHONHASHSEED": seed, "PATH": ""}
        subprocess.run([sys.executable, "-c", script, str(spec), str(out)], check=True, env=env)
        assert check_client(generate_client(load_spec(spec)), out) == []


def test_write_refuses_paths_outside_the_output_dir(tmp_path: Path) -> None:
    for bad in ("../evil.py", "/tmp/evil.py"):
        with pytest.raises(ValueError, match="relative path"):
            write_client({bad: ""}, tmp_path)


# --- hostile specs ----------------------------------------------------------------------

HOSTILE_YAML = r"""
connector:
  name: hostile
  title: "Hostile \"\"\" title"
  description: "\"\"\"\nimport os\nos.system('echo pwned')\n\"\"\"\\"
config:
  base_url: {required: true, description: "ends with a quote\" and a backslash \\"}
  token: {secret: true, default: "s3cr3t-default-value"}
source:
  base_url: "{config.base_url}"
types:
  Class:
    description: "class body\"\"\"; __import__('os').system('x'); \"\"\"\n\ttabbed\r\n\
      naïve 名前 \u202e"
    fields:
      class: String
      __import__: {type: String, from: "__import__"}
      import: {type: "[Int!]", description: "'''\"\"\"\\\n    import os"}
      self: ID
      model_config: String
      json: JSON
      id: ID!
      fooBar: String
      foo_bar: {type: String, from: "x\"\"\"y"}
      _private: {type: Boolean, from: "名前.naïve[0]"}
      __class__: Float
      eval: Hostile
      exec: "[Weird!]"
      os: Pick
  HostileClient:
    fields:
      any: String
      aLongFieldName: "[[LongEnum]]"
      aVeryLongFieldNameThatKeepsGoingOn: "[[LongEnum]]"
      aVeryLongFieldNameThatKeepsGoingAndGoing: "[[LongEnum!]]"
      andAnEvenLongerFieldNameThatKeepsGoingAndGoingAndGoing: "[[LongEnum!]!]!"
      described:
        type: Int
        description: "a description long enough to need a line of its own, and then some \
          more text"
  None:
    fields:
      TypeAdapter: String
  Any:
    kind: input
    fields:
      Field: {type: String!, from: "__import__('os')"}
      from: {type: Weird, from: "a.b"}
      enum: "[Any!]"
  Weird:
    kind: enum
    values:
      IMPORT_OS: "import os"
      QUOTES: "'''\"\"\""
      BACKSLASH: "\\"
      NEWLINE: "a\nb\"\"\"\nimport os"
      NAIVE: "naïve"
      NAME: "名前"
      class: "class"
      __import__: "__import__"
      None: "None"
      name: "name"
      value: 7
      _2_: "2"
  Hostile:
    kind: enum
    description: "\"\"\""
    values: ["naïve", "名前", "in-progress", "2xx", "a\"b", "\u202e RTL"]
  LongEnum:
    kind: enum
    values:
      A_VERY_LONG_ENUM_VALUE_NAME_THAT_KEEPS_GOING_AND_GOING_AND_GOING: "a long upstream value 1"
      SHORT: "a long upstream value that does not fit on the line with its name: 67 chars"
      LONGER: "an upstream value that does not fit on the line even in parentheses, it is so long"
      TWO: "名前名前名前名前名前名前名前名前名前名前名前名前\
        名前名前名前名前名前名前名前名前名前名前名前名前"
  Pick:
    kind: union
    types: [Class, HostileClient]
    discriminator:
      field: "kind\"\"\""
      mapping: {"'\"\"\"import os": Class, "名前": HostileClient}
operations:
  class:
    description: "\"\"\"\nimport os"
    args:
      class: {type: String!, description: "'''"}
      self: Int
      __import__: {type: "String!", default: "\"\"\"; import os; \"\"\""}
      from: Any
      input: "[Any!]"
      weird: {type: Weird, default: "import os"}
    request: {path: "/x"}
    response: {type: "[Class!]"}
  __import__:
    args: {os: String}
    request: {path: "/y"}
    response: {type: "[Pick!]!"}
    pagination: {strategy: link_header}
  import:
    kind: mutation
    request: {method: POST, path: "/z"}
    response: {type: JSON}
  exec: {description: "trailing backslash \\", request: {path: /a}, response: {type: "ID!"}}
  connector: {request: {path: /b}, response: {type: "[Weird]"}}
  aclose: {request: {path: /c}, response: {type: Hostile}}
  fooBar: {description: "ends with a quote\"", request: {path: /d}, response: {type: String}}
  aLongOperationName:
    args:
      aLongArgumentName: "[[LongEnum!]!]!"
      short: Int
    request: {path: /f}
    response: {type: "[[LongEnum]]"}
  foo_bar: {request: {path: /e}, response: {type: None}}
"""

HOSTILE_MARKERS = ("import os", "__import__", "os.system", "pwned", "system(", "名前", "naïve")
ALLOWED_CALLS = {"Field", "TypeAdapter", "_runtime.discriminated", "self._one", "self._pages"}
ALLOWED_IMPORTS = {"__future__", "enum", "typing", "pydantic", "collections.abc"}
FORBIDDEN_NAMES = {"__import__", "eval", "exec", "compile", "open", "getattr", "breakpoint"}
FORBIDDEN_MODULES = {"os", "sys", "subprocess", "builtins", "importlib", "shutil"}


def hostile_spec() -> ConnectorSpec:
    return load_spec_text(HOSTILE_YAML, "hostile.yaml")


def unicode_spec() -> ConnectorSpec:
    """Names the spec loader would refuse, built directly: unicode, spaces, leading digits."""
    fields = {
        name: FieldSpec(type="String")
        for name in ("naïve", "名前", "1st", "import os", "a b", "__", "ClassVar", "名")
    }
    return ConnectorSpec.model_construct(
        connector=ConnectorInfo(name="uni"),
        source=Source(base_url="http://example.com"),
        types={
            "Naïve": ObjectType.model_construct(fields=fields),
            "名前": ObjectType.model_construct(fields={"x": FieldSpec(type="Int")}),
            "Enum": EnumType(kind="enum", values=["a"]),
        },
        operations={
            "naïve op": Operation(response=ResponseSpec(type="Enum")),
            "名前": Operation(response=ResponseSpec(type="[String!]!")),
        },
    )


def _call_name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return f"{_call_name(func.value)}.{func.attr}"
    return "<expr>"


def assert_safe_module(source: str, filename: str) -> None:
    """Compiles; calls only expected names; spec text only inside string constants."""
    compile(source, filename, "exec")
    tree = ast.parse(source)
    model_classes = {
        node.name for node in tree.body if isinstance(node, ast.ClassDef) and node.bases
    }
    for node in ast.walk(tree):
        assert not isinstance(node, ast.JoinedStr | ast.Lambda | ast.Global)
        if isinstance(node, ast.BinOp):
            assert isinstance(node.op, ast.BitOr), filename  # only `A | None` type unions
        elif isinstance(node, ast.Call):
            name = _call_name(node.func)
            owner, _, attr = name.rpartition(".")
            rebuild = attr == "model_rebuild" and owner in model_classes
            assert name in ALLOWED_CALLS or rebuild, (filename, name)
        elif isinstance(node, ast.Name):
            assert node.id not in FORBIDDEN_NAMES, (filename, node.id)
        elif isinstance(node, ast.Attribute):
            assert node.attr not in FORBIDDEN_NAMES, (filename, node.attr)
            base = node.value.id if isinstance(node.value, ast.Name) else ""
            assert base not in FORBIDDEN_MODULES, (filename, ast.unparse(node))
        elif isinstance(node, ast.Import):
            raise AssertionError(f"{filename}: plain import {ast.unparse(node)}")
        elif isinstance(node, ast.ImportFrom):
            assert node.module in ALLOWED_IMPORTS or node.level == 1, (filename, node.module)
        elif isinstance(node, ast.arg):
            assert node.arg not in FORBIDDEN_NAMES, (filename, node.arg)
    code = _without_strings(tree)
    assert code.isascii(), filename  # identifiers are ASCII; other text is in strings
    for marker in HOSTILE_MARKERS:
        assert marker not in code, (filename, marker)


def _without_strings(tree: ast.Module) -> str:
    """The module's code with every string constant (and docstring) emptied."""

    class Blank(ast.NodeTransformer):
        def visit_Constant(self, node: ast.Constant) -> ast.Constant:
            return ast.Constant("") if isinstance(node.value, str) else node

    return ast.unparse(Blank().visit(tree))


def _python_files(files: dict[str, str]) -> dict[str, str]:
    """The modules made from the spec; `_runtime.py` is fixed code, the same for every spec."""
    runtime = [path for path in files if path.endswith("/_runtime.py")]
    assert [files[path] for path in runtime] == [RUNTIME_MODULE]
    compile(RUNTIME_MODULE, "_runtime.py", "exec")
    return {p: text for p, text in files.items() if p.endswith(".py") and p not in runtime}


@pytest.mark.parametrize("make_spec", [hostile_spec, unicode_spec], ids=["hostile", "unicode"])
def test_hostile_names_and_texts_stay_data(make_spec: Any) -> None:
    files = generate_client(make_spec())
    for path, source in _python_files(files).items():
        assert_safe_module(source, path)
    assert generate_client(make_spec()) == files


def test_hostile_names_become_safe_identifiers() -> None:
    files = generate_client(hostile_spec())
    models = files["hostile_client/models.py"]
    client = files["hostile_client/client.py"]
    for expected in (
        "class Class(_runtime.UpstreamModel):",
        'class_: str | None = Field(default=None, alias="class")',
        'import_: str | None = Field(default=None, alias="__import__")',
        "import_2: list[int] | None = Field(",
        'self_: str | None = Field(default=None, alias="self")',
        'model_config_: str | None = Field(default=None, alias="model_config")',
        'json_: Any = Field(default=None, alias="json")',
        'id_: str = Field(alias="id")',
        'foo_bar: str | None = Field(default=None, alias="fooBar")',
        'foo_bar_2: str | None = Field(default=None, alias="foo_bar")',
        'private: bool | None = Field(default=None, alias="_private")',
        'class_2: float | None = Field(default=None, alias="__class__")',
        "class HostileClient_(_runtime.UpstreamModel):",
        "class None_(_runtime.UpstreamModel):",
        "class Any_(_runtime.InputModel):",
        "field: str = Field(alias=\"__import__('os')\")",
        'IMPORT_OS = "import os"',
        'NEWLINE = \'a\\nb"""\\nimport os\'',
        'class_ = "class"',
        'import__ = "__import__"',
        'None_ = "None"',
        'name_ = "name"',
        "value_ = 7",
        '_2__ = "2"',
        'NA_VE = "naïve"',
        'EMPTY = "名前"',
        '_2XX = "2xx"',
        "A_B = 'a\"b'",
        'RTL = "\\u202e RTL"',
    ):
        assert expected in models, expected
    for expected in (
        "async def class_(",
        "def import_(self, *, os: str | None = None) -> AsyncIterator[Pick]:",
        "async def import_2(self) -> Any:",
        "async def exec_(self) -> str:",
        "async def connector_(self) -> list[Weird | None] | None:",
        "async def aclose_(self) -> Hostile | None:",
        "async def foo_bar(self) -> str | None:",
        "async def foo_bar_2(self) -> None_ | None:",
        "self_: int | None = None,",
        "import_: str | None = None,",  # String! with a default: may be left out
        "from_: Any_ | None = None,",
        "input_: list[Any_] | None = None,",
    ):
        assert expected in client, expected
    assert "s3cr3t-default-value" not in "".join(files.values())


def test_hostile_package_imports_and_keeps_every_text_exactly(import_package: Any) -> None:
    hostile = import_package(generate_client(hostile_spec()))
    weird = hostile.models.Weird
    assert weird.NEWLINE.value == 'a\nb"""\nimport os'
    assert weird.QUOTES.value == "'''\"\"\""
    assert weird.BACKSLASH.value == "\\"
    assert weird.name_.value == "name"
    assert hostile.models.Hostile.EMPTY.value == "名前"
    assert hostile.HostileClient.class_.__doc__.startswith('"""\n        import os')
    assert hostile.Class.__doc__.startswith('class body"""; __import__(\'os\')')
    imported = hostile.Class.model_fields["import_2"]
    assert (imported.alias, imported.description) == ("import", "'''\"\"\"\\\n    import os")
    assert hostile.Class.model_fields["foo_bar_2"].alias == "foo_bar"
    assert hostile.Class._upstream_paths["foo_bar"] == 'x"""y'

    record = {'kind"""': '\'"""import os', "__import__": "v", 'x"""y': "w", "id": 5}
    pick = hostile.client.TypeAdapter(hostile.Pick)
    item = pick.validate_python(record, context={"connectql_upstream": True})
    assert isinstance(item, hostile.Class)
    assert (item.import_, item.id_, item.foo_bar_2) == ("v", "5", "w")

    given = hostile.Any_(field="x", from_=weird.IMPORT_OS)
    assert hostile._runtime.to_upstream(given) == {"__import__('os')": "x", "from": "import os"}
    client = hostile.HostileClient({"base_url": "http://127.0.0.1:9"})
    assert client.connector.name == "hostile"


def test_names_are_normalised() -> None:
    assert snake_name("naïve", "f") == "naive"
    assert snake_name("名前", "f") == "u540d_u524d"
    assert snake_name("authorId", "f") == "author_id"
    assert snake_name("HTTPServer", "f") == "http_server"
    assert snake_name("1st", "f") == "n_1st"
    assert snake_name("__", "f") == "f"
    assert snake_name("import os", "f") == "import_os"
    assert class_name("Naïve") == "Naive"
    assert class_name("名前") == "U540d_u524d"
    assert member_name("_2XX") == "_2XX"
    assert member_name("__x__") == "x__"
    for text in ('"""', "'''", "\\", "a\nb", "\x00\u202e", "名前", "'\"", ""):
        assert ast.literal_eval(py_string(text)) == text
    lines = docstring('"""\nimport os\\\n\t"', 1)
    assert ast.literal_eval("\n".join(line.strip() for line in lines)).startswith('"""')


# --- prebuilt connectors ------------------------------------------------------------------


@pytest.mark.parametrize("spec_path", BUILTIN_SPECS, ids=lambda p: p.parent.name)
def test_prebuilt_connectors_generate_code_that_compiles(spec_path: Path) -> None:
    spec = load_spec(spec_path)
    files = generate_client(spec)
    for path, source in _python_files(files).items():
        assert_safe_module(source, path)
    shipped = load_spec_text(files[f"{spec.name}_client/spec.json"])
    assert shipped == spec.model_copy(update={"tests": []})


def test_prebuilt_clients_import(import_package: Any) -> None:
    slack = import_package(generate_client(load_spec(BUILTIN_DIR / "slack" / "connector.yaml")))
    client = slack.SlackClient({"token": "xoxb-test-token"})
    assert callable(client.upload_file)  # an operation hook, registered by default
    openai = import_package(generate_client(load_spec(BUILTIN_DIR / "openai" / "connector.yaml")))
    assert openai.client._EMBEDDING.validate_python([1, 2.5]) == [1.0, 2.5]


# --- formatting -------------------------------------------------------------------------


@pytest.mark.skipif(not HAS_RUFF, reason="ruff is not installed")
def test_output_is_as_ruff_formats_it(tmp_path: Path) -> None:
    specs = [load_spec(BOOKSTORE_SPEC), hostile_spec(), unicode_spec()]
    specs += [load_spec(p) for p in BUILTIN_SPECS]
    for spec in specs:
        write_client(generate_client(spec), tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--isolated", "--check", "--diff", "."],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
