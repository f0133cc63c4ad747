"""Shared fixtures: the repository's root and the `qecnet` binary that `cargo test --release`
(or `cargo build --release`) built, run from the tests to compare with the package."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SIMS = REPO / "sims"


def cli_path() -> Path:
    exe = Path(os.environ.get("QECNET_CLI", REPO / "target" / "release" / "qecnet"))
    if not exe.is_file():
        pytest.fail(f"{exe}: the qecnet CLI is not built; run `cargo build --release` first (or set QECNET_CLI)")
    return exe


def run_cli(*args: str, cwd: Path | None = None) -> str:
    """Runs the CLI with `args`, failing the test on a non-zero exit; returns its stdout."""
    done = subprocess.run([str(cli_path()), *args], capture_output=True, text=True, cwd=cwd, timeout=600)
    if done.returncode != 0:
        pytest.fail(f"qecnet {' '.join(args)} exited {done.returncode}: {done.stderr}")
    return done.stdout


def cli_json(*args: str, cwd: Path | None = None) -> dict:
    return json.loads(run_cli(*args, cwd=cwd))


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def cli_json_fixture():
    return cli_json
