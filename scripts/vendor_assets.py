"""Vendor the browser assets of GraphiQL, Swagger UI and the console's builder (js-yaml)
into src/connectql/server/static/.

    python scripts/vendor_assets.py

Each package is fetched with `npm pack` and its tarball checked against the sha512 pinned
here (the registry's `dist.integrity`) before anything is extracted. Only the files the pages
load and the licences are kept, in `NAME-VERSION/` folders (so a new version is a new URL and
the files can be cached for good), and `manifest.json` records each file's sha256 in SRI form:
the pages' `integrity=` attributes and the test of the shipped files both read it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import NamedTuple

STATIC = Path(__file__).resolve().parent.parent / "src" / "connectql" / "server" / "static"


class Pin(NamedTuple):
    version: str
    integrity: str
    files: tuple[str, ...]
    """Paths inside the tarball's `package/`; each is kept under its base name."""


PINS = {
    # the console's builder: YAML in the browser (its UMD bundle defines `jsyaml`)
    "js-yaml": Pin(
        "5.5.0",
        "sha512-paNr4LFIFPjeeSmwNYdrb8FafLLG/Cr2Af3GjbsHJ5CxIjH4r0c2emlmRdAtpPAieP1gRVzk6buBbVP5gBMGAg==",
        ("dist/browser/js-yaml.umd.min.js", "LICENSE"),
    ),
    "react": Pin(
        "18.2.0",
        "sha512-/3IjMdb2L9QbBdWiW5e3P2/npwMBaU9mHCSCUzNln0ZCYbcfTsGbTJrU/kGemdH2IWmB2ioZ+zkxtmq6g09fGQ==",
        ("umd/react.production.min.js", "LICENSE"),
    ),
    "react-dom": Pin(
        "18.2.0",
        "sha512-6IMTriUmvsjHUjNtEDudZfuDQUoWXVxKHhlEGSk81n4YFS+r/Kl99wXiwlVXtPBtJenozv2P+hxDsw9eA7Xo6g==",
        ("umd/react-dom.production.min.js", "LICENSE"),
    ),
    # 4.x: the last line with a browser (UMD) bundle, graphql-ws included; 5.x is ES modules
    "graphiql": Pin(
        "4.1.2",
        "sha512-rNlzQIAzm6i2KBXmVQWBgLvt0TloxFVB2d18bukvdsvjEuFDHsKx5IVOomL1W1o5WW+tE54+ioHb2AEKzO2cUg==",
        ("graphiql.min.js", "graphiql.min.css", "LICENSE"),
    ),
    "swagger-ui-dist": Pin(
        "5.35.0",
        "sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ==",
        (
            "swagger-ui-bundle.js",
            "swagger-ui.css",
            "favicon-32x32.png",
            "LICENSE",
            "NOTICE",
            "swagger-ui-bundle.js.LICENSE.txt",
        ),
    ),
}


def sri(data: bytes, algorithm: str = "sha256") -> str:
    digest = hashlib.new(algorithm, data).digest()
    return f"{algorithm}-{base64.b64encode(digest).decode()}"


def fetch(name: str, pin: Pin, work: Path) -> Path:
    """The package's tarball, fetched by npm and checked against the pinned integrity."""
    npm = shutil.which("npm") or sys.exit("npm is needed: it fetches the pinned tarballs")
    out = subprocess.run(  # noqa: S603 (fixed arguments: the pinned names above)
        [npm, "pack", f"{name}@{pin.version}", "--json", "--pack-destination", str(work)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    tarball = work / str(json.loads(out)[0]["filename"])
    actual = sri(tarball.read_bytes(), "sha512")
    if actual != pin.integrity:
        sys.exit(f"{name}@{pin.version}: tarball is {actual}, pinned {pin.integrity}")
    return tarball


def vendor(name: str, pin: Pin, tarball: Path) -> dict[str, object]:
    target = STATIC / f"{name}-{pin.version}"
    target.mkdir(parents=True)
    files = {}
    with tarfile.open(tarball) as archive:
        for inner in pin.files:
            member = archive.extractfile(f"package/{inner}")
            if member is None:
                sys.exit(f"{name}@{pin.version}: {inner} is not a file")
            data = member.read()
            base = inner.rsplit("/", 1)[-1]
            (target / base).write_bytes(data)
            files[base] = sri(data)
    return {
        "version": pin.version,
        "integrity": pin.integrity,
        "files": dict(sorted(files.items())),
    }


def main() -> None:
    if STATIC.exists():
        shutil.rmtree(STATIC)
    STATIC.mkdir(parents=True)
    manifest = {}
    with tempfile.TemporaryDirectory() as work:
        for name, pin in sorted(PINS.items()):
            manifest[name] = vendor(name, pin, fetch(name, pin, Path(work)))
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    (STATIC / "manifest.json").write_text(text, encoding="utf-8")
    print(f"vendored {', '.join(f'{n}@{p.version}' for n, p in sorted(PINS.items()))}")


if __name__ == "__main__":
    main()
