"""The command's own name (not the official Higgsfield CLI's ``higgsfield``), ``--version`` and
``__version__``, which agree with the installed distribution's metadata."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import higgsfield_client

SCRIPT = str(Path(sys.executable).with_name("higgsfield-sansio"))


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=120, check=True)


def test_version_is_the_distributions() -> None:
    assert higgsfield_client.__version__ == importlib.metadata.version("higgsfield-sansio")
    assert "__version__" in higgsfield_client.__all__


def test_the_script_says_its_name_and_version() -> None:
    assert _run(SCRIPT, "--version").stdout == f"higgsfield-sansio {higgsfield_client.__version__}\n"
    assert _run(SCRIPT, "--help").stdout.startswith("usage: higgsfield-sansio ")


def test_python_m_names_itself_so() -> None:
    ran = _run(sys.executable, "-m", "higgsfield_client", "--version")
    assert ran.stdout == f"higgsfield-sansio {higgsfield_client.__version__}\n"
    help_text = _run(sys.executable, "-m", "higgsfield_client", "--help").stdout
    assert help_text.startswith("usage: python -m higgsfield_client ")


def test_no_script_takes_the_official_clis_name() -> None:
    scripts = {
        entry.name: entry.value
        for entry in importlib.metadata.distribution("higgsfield-sansio").entry_points
        if entry.group == "console_scripts"
    }
    assert scripts == {"higgsfield-sansio": "higgsfield_client.cli:main"}


def test_make_demo_runs_a_script_the_package_installs() -> None:
    makefile = (Path(__file__).parents[2] / "Makefile").read_text().splitlines()
    recipe = makefile[makefile.index(next(line for line in makefile if line.startswith("demo:"))) + 1]
    script = recipe.split()[0].removeprefix("$(BIN)/")
    assert Path(sys.executable).with_name(script).exists(), recipe
