"""Check the built wheel as a user gets it (`make wheel-check`); standard library only.

Run with the interpreter to check under: ``python .ci/check_wheel.py DIST_DIR``. It checks that the
wheel holds the three packages' ``py.typed`` markers, the model catalog's data files, the
``higgsfield-sansio`` console script, the ``higgsfield_emulator`` pytest11 entry point and metadata
claiming this Python; then installs the wheel into a clean venv outside the source tree, loads the
catalog snapshot and runs ``higgsfield-sansio demo`` and a test that uses the pytest plugin's fixture
from it. Exits non-zero, naming what is wrong, on the first failure.
"""

from __future__ import annotations

import configparser
import subprocess
import sys
import tempfile
import textwrap
import venv
import zipfile
from email.parser import Parser
from pathlib import Path
from typing import List, NoReturn

PACKAGES = ("higgsfield_proto", "higgsfield_transports", "higgsfield_client")
# The catalog snapshot (package data): the published OpenAPI document and the SDK's catalog data.
DATA_FILES = ("higgsfield_client/models/openapi.json", "higgsfield_client/models/catalog.json")
LOAD_CATALOG = (
    "from higgsfield_client.models import snapshot_catalog; catalog = snapshot_catalog(); "
    "assert len(catalog.list()) > 48, len(catalog.list()); "
    "print(f'{len(catalog.list())} models, snapshot of {catalog.date}')"
)
ENTRY_POINTS = {
    "console_scripts": ("higgsfield-sansio", "higgsfield_client.cli:main"),
    "pytest11": ("higgsfield_emulator", "higgsfield_client.testing._plugin"),
}
# Loaded by pytest from the entry point alone: the scratch directory has no conftest.py.
PLUGIN_TEST = '''
import higgsfield_client


def test_the_fixture_serves_the_module_level_functions(higgsfield_emulator):
    result = higgsfield_client.subscribe("higgsfield-ai/soul/standard", arguments={"prompt": "a lake"})
    (job,) = higgsfield_emulator.jobs()
    assert result.request_id == job.request_id
'''


def fail(message: str) -> NoReturn:
    print(f"check_wheel: FAILED: {message}", file=sys.stderr)
    raise SystemExit(1)


def ok(message: str) -> None:
    print(f"check_wheel: ok: {message}", flush=True)


def check_contents(wheel: Path) -> None:
    """The files and metadata the wheel must carry."""
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for package in PACKAGES:
            if f"{package}/py.typed" not in names:
                fail(f"{wheel.name} has no {package}/py.typed")
        ok("py.typed in " + ", ".join(PACKAGES))
        for data_file in DATA_FILES:
            if data_file not in names:
                fail(f"{wheel.name} has no {data_file}")
        ok("the catalog snapshot: " + ", ".join(DATA_FILES))
        top_level = {name.split("/", 1)[0] for name in names}
        dist_info = [name for name in top_level if name.endswith(".dist-info")]
        if len(dist_info) != 1 or top_level - {*PACKAGES, *dist_info}:
            fail(f"{wheel.name} holds unexpected top-level entries: {sorted(top_level)}")
        ok("only the three packages and their dist-info")
        entry_points = configparser.ConfigParser()
        entry_points.read_string(archive.read(f"{dist_info[0]}/entry_points.txt").decode())
        for group, (name, target) in ENTRY_POINTS.items():
            found = entry_points.get(group, name, fallback=None)
            if found is None or found.strip() != target:
                fail(f"{wheel.name} lacks the {group} entry point {name} = {target} (found {found!r})")
            ok(f"entry point [{group}] {name} = {target}")
        metadata = Parser().parsestr(archive.read(f"{dist_info[0]}/METADATA").decode())
    claimed = "Programming Language :: Python :: {}.{}".format(*sys.version_info[:2])
    if claimed not in metadata.get_all("Classifier", []):
        fail(f"the metadata does not claim this Python: no classifier {claimed!r}")
    ok(f"classifier {claimed!r}, Requires-Python {metadata['Requires-Python']}")


def run(command: List[str], cwd: Path) -> None:
    print("check_wheel: $ " + " ".join(command), flush=True)
    completed = subprocess.run(command, cwd=cwd, check=False)
    if completed.returncode != 0:
        fail(f"{' '.join(command)} exited with {completed.returncode}")


def check_installed(wheel: Path) -> None:
    """Install the wheel into a clean venv and use it from outside the source tree."""
    with tempfile.TemporaryDirectory(prefix="higgsfield-wheel-") as scratch:
        home = Path(scratch)
        venv.create(home / "venv", with_pip=True)
        bin_dir = home / "venv" / "bin"
        python = str(bin_dir / "python")
        run([python, "-m", "pip", "install", "--quiet", f"{wheel.resolve()}[pillow]", "pytest"], home)
        site = subprocess.run(
            [python, "-c", "import higgsfield_client; print(higgsfield_client.__file__)"],
            cwd=home, capture_output=True, text=True, check=True,
        ).stdout.strip()
        if not site.startswith(str(home / "venv")):
            fail(f"higgsfield_client was imported from {site}, not from the clean venv")
        ok(f"installed into a clean venv ({site})")
        run([python, "-c", LOAD_CATALOG], home)
        ok("the catalog snapshot loads from the installed package data")
        if (bin_dir / "higgsfield").exists():
            fail("the wheel installs a `higgsfield` script, the official Higgsfield CLI's name")
        version = subprocess.run(
            [str(bin_dir / "higgsfield-sansio"), "--version"],
            cwd=home, capture_output=True, text=True, check=True,
        ).stdout.strip()
        module = subprocess.run(
            [python, "-c", "import higgsfield_client, importlib.metadata as m; "
             "print(higgsfield_client.__version__, m.version('higgsfield-sansio'))"],
            cwd=home, capture_output=True, text=True, check=True,
        ).stdout.split()
        if module[0] != module[1] or module[0] not in version:
            fail(f"versions disagree: --version says {version!r}, __version__ and the metadata {module}")
        ok(f"higgsfield-sansio --version: {version}")
        run([str(bin_dir / "higgsfield-sansio"), "demo"], home)
        ok("higgsfield-sansio demo ran from the installed script")
        (home / "test_plugin.py").write_text(textwrap.dedent(PLUGIN_TEST))
        run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_plugin.py"], home)
        ok("the pytest11 plugin's higgsfield_emulator fixture works")


def main() -> None:
    dist = Path(sys.argv[1])
    wheels = sorted(dist.glob("*.whl"))
    if len(wheels) != 1:
        fail(f"expected one wheel in {dist}, found {[wheel.name for wheel in wheels]}")
    print(f"check_wheel: {wheels[0].name} under Python {sys.version.split()[0]} ({sys.executable})")
    check_contents(wheels[0])
    check_installed(wheels[0])


if __name__ == "__main__":
    main()
