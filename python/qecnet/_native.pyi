"""The native module behind :mod:`qecnet` (Rust, PyO3): one function per CLI command, over the
same library code. Use the documented wrappers in :mod:`qecnet`; these take every argument
positionally and return JSON text or CSV text."""

from typing import Any, Callable, Optional

__version__: str

class QecnetError(ValueError):
    """Bad input or a failed run; the message is the qecnet CLI's, naming the field, the value
    and the allowed range."""

_Callback = Optional[Callable[[int, int], Any]]

def simulate_link(
    config: Optional[str], set: list[str], engine: Optional[str], pulses: Optional[int], seed: Optional[int],
    postprocess: bool, reconciler: Optional[str], progress: _Callback,
) -> tuple[str, list[float]]:
    """``qecnet link --json``: (the JSON object, the QBER of each block of the sifted key)."""

def key_rate(
    model: str, config: Optional[str], set: list[str], distance_km: Optional[float], mu: Optional[float],
    nu: Optional[float], block_size: Optional[int], qber: Optional[float], optimise: bool, max_distance: bool,
) -> str:
    """``qecnet keyrate --json`` (with ``--max-distance`` when ``max_distance``)."""

def key_rates(
    model: str, config: Optional[str], set: list[str], distances_km: list[float], mu: Optional[float],
    nu: Optional[float], block_size: Optional[int], qber: Optional[float], optimise: bool,
) -> dict[str, Any]:
    """``qecnet keyrate --json`` at every distance, in parallel: a dict of columns."""

def sweep(
    path: str, set: list[str], threads: Optional[int], output: Optional[str], resume: bool, progress: _Callback,
) -> tuple[str, int, bool]:
    """``qecnet sweep run [--set ...]``: (the CSV written, points failed, whether it was already complete)."""

def mesh(
    scenario: str, set: list[str], duration: Optional[str], db: Optional[str], seed: Optional[int],
    overwrite: bool, progress: _Callback,
) -> tuple[str, dict[str, Optional[str]]]:
    """``qecnet mesh --json``: (the summary, the files written)."""

def audit_verify(db: str, pins: list[str], known_head: Optional[str]) -> str:
    """``qecnet audit verify --json``."""

def cascade_study(
    qber: list[float], block_size: int, runs: int, variants: list[str], biconf: Optional[int], seed: int,
    progress: _Callback,
) -> str:
    """``qecnet cascade-study``: the rows as CSV text."""

def reconcile_study(
    qber: list[float], block_size: int, runs: int, variants: list[str], reconcilers: list[str],
    biconf: Optional[int], seed: int, progress: _Callback,
) -> str:
    """``qecnet reconcile-study``: the rows as CSV text."""
