"""qecnet from Python: the QKD lab's link engines, key rates, sweeps, Cascade study and mesh.

Every function runs the same library code as the ``qecnet`` command line and returns what its
``--json`` prints (a dict) or its CSV (a :class:`pandas.DataFrame`), so a seed gives the same
numbers here as in a shell. Bad input raises :class:`QecnetError` (a :class:`ValueError`) with
the CLI's message, naming the field, the value and the allowed range. Long calls release the
GIL, run on the lab's thread pool and raise :class:`KeyboardInterrupt` within about 0.1 s of
Ctrl-C, leaving no partial output file. ``progress`` takes a callback ``f(done, total)`` or
``True`` for a tqdm bar (when tqdm is installed).
"""

from __future__ import annotations

import io
import json
import math
import os
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence, Union

import numpy as np
import pandas as pd

from . import _native
from ._native import QecnetError

__version__: str = _native.__version__

__all__ = [
    "QecnetError",
    "simulate_link",
    "key_rate",
    "max_distance",
    "sweep",
    "mesh",
    "audit_verify",
    "cascade_study",
    "reconcile_study",
]

PathLike = Union[str, "os.PathLike[str]"]
Progress = Union[None, bool, Callable[[int, int], Any]]


def _toml_value(key: str, value: Any) -> str:
    """``value`` as a TOML literal for a ``--set key=value`` override."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        x = float(value)
        if math.isnan(x):
            return "nan"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return repr(x)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(key, v) for v in value) + "]"
    raise QecnetError(f"set[{key!r}] = {value!r}: must be a bool, number, string or list of them")


def _set_items(set: Optional[Mapping[str, Any]]) -> list[str]:
    if set is None:
        return []
    if not isinstance(set, Mapping):
        raise QecnetError(f"set = {set!r}: must be a dict of field paths to values, e.g. {{'channel.length_km': 50}}")
    return [f"{k}={_toml_value(k, v)}" for k, v in set.items()]


def _count(name: str, value: Any) -> Optional[int]:
    """A count given as an int or a whole float (``1e9``), or None."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise QecnetError(f"{name} = {value!r}: must be a whole number ≥ 0")
    if isinstance(value, (int, np.integer)):
        n = int(value)
    elif isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer():
        n = int(value)
    else:
        raise QecnetError(f"{name} = {value!r}: must be a whole number ≥ 0 (1e9 is accepted)")
    if n < 0 or n >= 2**64:
        raise QecnetError(f"{name} = {value!r}: must be a whole number in 0..2^64")
    return n


def _float(name: str, value: Any) -> Optional[float]:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise QecnetError(f"{name} = {value!r}: must be a number") from None


def _path(value: Optional[PathLike]) -> Optional[str]:
    return None if value is None else os.fspath(value)


class _Tqdm:
    """A progress callback drawing a tqdm bar (closed by :meth:`close`)."""

    def __init__(self, unit: str) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=0, unit=unit, unit_scale=True)

    def __call__(self, done: int, total: int) -> None:
        if self.bar.total != total:
            self.bar.total = total
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


def _progress(progress: Progress, unit: str) -> tuple[Optional[Callable[[int, int], Any]], Optional[_Tqdm]]:
    """The callback for ``progress``: itself, a tqdm bar for True (if tqdm is installed), or none."""
    if progress is None or progress is False:
        return None, None
    if progress is True:
        try:
            bar = _Tqdm(unit)
        except ImportError:
            return None, None
        return bar, bar
    if callable(progress):
        return progress, None
    raise QecnetError(f"progress = {progress!r}: must be None, a bool or a callable f(done, total)")


def _with_progress(progress: Progress, unit: str, call: Callable[[Optional[Callable[[int, int], Any]]], Any]) -> Any:
    callback, bar = _progress(progress, unit)
    try:
        return call(callback)
    finally:
        if bar is not None:
            bar.close()


def simulate_link(
    config: Optional[PathLike] = None,
    *,
    engine: Optional[str] = None,
    pulses: Union[int, float, None] = None,
    seed: Optional[int] = None,
    set: Optional[Mapping[str, Any]] = None,
    postprocess: bool = False,
    reconciler: Optional[str] = None,
    qber_stream: bool = False,
    progress: Progress = None,
) -> dict[str, Any]:
    """Simulate one BB84 link photon by photon: ``qecnet link --json``.

    Args:
        config: scenario file (TOML); the built-in GYS link at 50 km when None.
        engine: ``"pulse"``, ``"event"`` or ``"block"`` (``simulation.engine``).
        pulses: pulses to send (``simulation.pulses``; a whole float such as 1e9 is accepted).
        seed: seed of the random streams (``simulation.seed``).
        set: any scenario field, e.g. ``{"channel.length_km": 50, "detector.dark_count_probability": 1e-6}``.
        postprocess: post-process the sifted key block by block (Cascade, verification,
            privacy amplification), adding the pipeline's fields.
        reconciler: Cascade variant of ``postprocess`` (default ``"option7"``).
        qber_stream: add ``"qber_stream"``: the QBER of each block of sifted key bits
            (``simulation.qber_block_bits``) as a numpy array.
        progress: a callback ``f(pulses_done, pulses_total)``, or True for a tqdm bar.

    Returns:
        The ``qecnet link --json`` object: measured gains and error rates per intensity class
        beside their analytic expectation, the QBER with its standard error, and so on.
    """
    items = _set_items(set)

    def call(callback: Optional[Callable[[int, int], Any]]) -> Any:
        return _native.simulate_link(
            _path(config), items, engine, _count("pulses", pulses), _count("seed", seed), bool(postprocess),
            reconciler, callback,
        )

    text, stream = _with_progress(progress, "pulses", call)
    out: dict[str, Any] = json.loads(text)
    if qber_stream:
        out["qber_stream"] = np.asarray(stream, dtype=float)
    return out


def key_rate(
    model: str,
    config: Optional[PathLike] = None,
    *,
    distance_km: Union[float, Sequence[float], np.ndarray, None] = None,
    mu: Optional[float] = None,
    nu: Optional[float] = None,
    block_size: Union[int, float, None] = None,
    qber: Optional[float] = None,
    optimise: bool = False,
    set: Optional[Mapping[str, Any]] = None,
) -> dict[str, Any]:
    """The analytic secret key rate of a link: ``qecnet keyrate --json``.

    Args:
        model: ``"shor-preskill"``, ``"gllp"``, ``"decoy-infinite"``, ``"decoy-vacuum-weak"`` or ``"lim2014"`` (as the CLI's ``--model``).
        config: scenario file (TOML); the built-in GYS link when None.
        distance_km: fibre length (km), a scalar or an array. For an array every length is
            evaluated in Rust, in parallel, and each value of the result is an array of the
            same shape (``model`` stays a string).
        mu: signal intensity μ (mean photon number).
        nu: decoy intensity ν.
        block_size: key-basis detections per block n_X (lim2014).
        qber: signal QBER to use instead of the link's expected one.
        optimise: optimise the model's free parameters (μ, ν; for lim2014 also the class
            probabilities and basis bias) at each length.
        set: any scenario field, as in :func:`simulate_link`.

    Returns:
        ``{"model", "distance_km", "mu", "nu", "z_basis_probability", "rate_per_pulse"
        (bits/pulse), "rate_bps" (bits/s), "qber", "single_photon_yield", "single_photon_error"}``.
    """
    items = _set_items(set)
    args = (_float("mu", mu), _float("nu", nu), _count("block_size", block_size), _float("qber", qber), bool(optimise))
    if distance_km is not None and np.ndim(distance_km) > 0:
        try:
            d = np.asarray(distance_km, dtype=float)
        except (TypeError, ValueError):
            raise QecnetError(f"distance_km = {distance_km!r}: must be a number or an array of numbers") from None
        columns = _native.key_rates(model, _path(config), items, d.ravel().tolist(), *args)
        return {k: v if k == "model" else np.asarray(v, dtype=float).reshape(d.shape) for k, v in columns.items()}
    text = _native.key_rate(model, _path(config), items, _float("distance_km", distance_km), *args, False)
    return json.loads(text)


def max_distance(
    model: str,
    config: Optional[PathLike] = None,
    *,
    mu: Optional[float] = None,
    nu: Optional[float] = None,
    block_size: Union[int, float, None] = None,
    optimise: bool = False,
    set: Optional[Mapping[str, Any]] = None,
) -> dict[str, Any]:
    """The longest fibre with a positive key rate: ``qecnet keyrate --max-distance --json``.

    Returns the :func:`key_rate` object at the scenario's length plus ``"max_distance_km"``
    (km, or None when no length gives key) and, when key was found at every length searched,
    ``"max_distance_unbounded": True`` (the distance is then a lower bound).
    """
    items = _set_items(set)
    text = _native.key_rate(
        model, _path(config), items, None, _float("mu", mu), _float("nu", nu), _count("block_size", block_size),
        None, bool(optimise), True,
    )
    return json.loads(text)


def sweep(
    path: PathLike,
    *,
    threads: Optional[int] = None,
    set: Optional[Mapping[str, Any]] = None,
    output: Optional[PathLike] = None,
    resume: bool = False,
    progress: Progress = None,
) -> pd.DataFrame:
    """Run every point of a sweep file: ``qecnet sweep run PATH [--set field=value ...]``.

    The CSV (and its manifest) is written where the CLI writes it (the sweep's ``output``, or
    ``output``) and returned as a DataFrame with the CSV's columns. A sweep stopped by Ctrl-C
    keeps its finished points in ``OUT.csv.partial`` for ``resume=True``, as the CLI does.

    Args:
        path: the sweep file (TOML).
        threads: worker threads (default: all cores); the results do not depend on it.
        set: fields of the sweep's base scenario to change, after the file's own ``set``, e.g.
            ``{"detector.dark_count_probability": 1e-6}`` (the CLI's ``--set``, with its checks
            and messages; a swept field cannot be set). A resumed run needs the same ``set``.
        output: write the CSV here instead of the sweep's ``output``.
        resume: finish an interrupted run, keeping the points already done.
        progress: a callback ``f(points_done, points_total)``, or True for a tqdm bar.
    """
    n = _count("threads", threads)
    if n is not None and n < 1:
        raise QecnetError(f"threads = {threads!r}: must be at least 1")
    items = _set_items(set)
    csv, failed, _ = _with_progress(
        progress, "points",
        lambda cb: _native.sweep(os.fspath(path), items, n, _path(output), bool(resume), cb),
    )
    frame = pd.read_csv(csv, comment="#")
    if failed:
        import warnings

        warnings.warn(f"{failed} points failed (see the error column of {csv})", RuntimeWarning, stacklevel=2)
    return frame


def mesh(
    scenario: PathLike,
    *,
    duration: Union[str, float, None] = None,
    db: Optional[PathLike] = None,
    seed: Optional[int] = None,
    overwrite: bool = False,
    set: Optional[Mapping[str, Any]] = None,
    progress: Progress = None,
) -> dict[str, Any]:
    """Run a QKD mesh scenario driving the real key-lifecycle engine: ``qecnet mesh --json``.

    Args:
        scenario: the mesh scenario (e.g. ``sims/mesh-default.toml``).
        duration: simulated time, ``"24h"``, ``"90m"``, ``"3600s"`` or seconds.
        db: the SQLite store to create (default ``datasets/mesh/<scenario>.db``); the trace,
            per-link time series and rotations CSVs are written beside it.
        seed: seed of every random stream (``mesh.seed``).
        overwrite: replace the store and CSVs of an earlier run instead of refusing.
        set: any scenario field, e.g. ``{"monitor.qber_threshold": 0.09}``.
        progress: a callback ``f(simulated_s_done, simulated_s_total)``, or True for tqdm.

    Returns:
        The mesh summary, plus ``"files"``: the paths of the store and CSVs written.
    """
    if duration is not None and not isinstance(duration, str):
        d = _float("duration", duration)
        duration = f"{d!r}s"
    items = _set_items(set)
    text, files = _with_progress(
        progress, "s",
        lambda cb: _native.mesh(
            os.fspath(scenario), items, duration, _path(db), _count("seed", seed), bool(overwrite), cb
        ),
    )
    out: dict[str, Any] = json.loads(text)
    out["files"] = files
    return out


def audit_verify(db: PathLike, *, pins: Iterable[str] = (), known_head: Optional[str] = None) -> dict[str, Any]:
    """Verify a key store's audit chain: ``qecnet audit verify DB --json``.

    Args:
        db: the store.
        pins: AUDIT_SIGNING public keys (64 hex digits) every checkpoint must be signed by.
        known_head: a signed head ``"SIZE:ROOT"`` kept from an earlier verification.

    Returns:
        ``{"ok": True, "authenticated": …, "report": {…}}`` or ``{"ok": False, "failure": …, "message": …}``.
    """
    return json.loads(_native.audit_verify(os.fspath(db), [str(p) for p in pins], known_head))


def cascade_study(
    qber: Union[float, Sequence[float], np.ndarray],
    *,
    block_size: Union[int, float],
    runs: Union[int, float],
    variant: Union[str, Sequence[str], None] = None,
    biconf: Optional[int] = None,
    seed: int = 1,
    progress: Progress = None,
) -> pd.DataFrame:
    """Cascade variants on a binary symmetric channel: ``qecnet cascade-study``.

    Args:
        qber: channel QBERs, each in (0, 0.5).
        block_size: frame length n in bits.
        runs: frames per variant and QBER.
        variant: variants to run (all when None), e.g. ``"option7"`` or ``["original", "yan"]``.
        biconf: BICONF rounds for every variant, overriding each variant's own.
        seed: seed of the random streams.
        progress: a callback ``f(rows_done, rows_total)``, or True for a tqdm bar.

    Returns:
        One row per variant × QBER with the CSV's columns (efficiency, channel uses, frame error rate…).
    """
    q = [float(x) for x in np.atleast_1d(np.asarray(qber, dtype=float))]
    variants = [] if variant is None else ([variant] if isinstance(variant, str) else list(variant))
    bs, r = _count("block_size", block_size), _count("runs", runs)
    b = _count("biconf", biconf)
    text = _with_progress(
        progress, "rows",
        lambda cb: _native.cascade_study(q, bs, r, variants, b, _count("seed", seed), cb),
    )
    return pd.read_csv(io.StringIO(text))


def reconcile_study(
    qber: Union[float, Sequence[float], np.ndarray],
    *,
    block_size: Union[int, float],
    runs: Union[int, float],
    reconciler: Union[str, Sequence[str], None] = None,
    variant: Union[str, Sequence[str], None] = None,
    biconf: Optional[int] = None,
    seed: int = 1,
    progress: Progress = None,
) -> pd.DataFrame:
    """Any reconciler on a binary symmetric channel: ``qecnet reconcile-study``.

    Args:
        qber: channel QBERs, each in (0, 0.5).
        block_size: sifted key bits per frame.
        runs: frames per reconciler and QBER.
        reconciler: names as ``--reconciler`` spells them, e.g. ``"ldpc"`` or ``["cascade-option7", "ldpc"]``.
        variant: Cascade variants, run before ``reconciler`` (every variant when both are None).
        biconf: BICONF rounds for every Cascade variant, overriding each variant's own.
        seed: seed of the random streams.
        progress: a callback ``f(rows_done, rows_total)``, or True for a tqdm bar.

    Returns:
        One row per reconciler × QBER with the CLI's ``--json`` fields: efficiency (over the
        frames verification accepts), frame error rate, round trips, messages and
        ``throughput_bits_per_s`` (a timing: sifted bits per CPU second of the one thread
        that reconciled each frame; every other column depends on the seed only).
    """
    q = [float(x) for x in np.atleast_1d(np.asarray(qber, dtype=float))]
    names = [] if reconciler is None else ([reconciler] if isinstance(reconciler, str) else list(reconciler))
    variants = [] if variant is None else ([variant] if isinstance(variant, str) else list(variant))
    bs, r = _count("block_size", block_size), _count("runs", runs)
    b = _count("biconf", biconf)
    text = _with_progress(
        progress, "rows",
        lambda cb: _native.reconcile_study(q, bs, r, variants, names, b, _count("seed", seed), cb),
    )
    return pd.read_csv(io.StringIO(text))
