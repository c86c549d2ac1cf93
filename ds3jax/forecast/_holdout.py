"""Held-out validation: fit on some checkpoints, score pass@k on the others.

Score of a forecast at a held-out checkpoint and k: |mean_i forecast_i - mean_i estimate_i|
over the problems with n_i >= k there, where estimate_i = 1 - C(n_i - c_i, k) / C(n_i, k) is
the unbiased pass@k estimate of problem i (computed in log space). Three forecasts are
scored: the DS3 fit, the logistic baseline, and "reuse": the data of the nearest trained
checkpoint (same D and the largest trained N below, else same N and the largest trained D
below), i.e. assuming nothing changes beyond the training grid.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from ..population._passk import passk_unbiased
from ._api import fit_baseline, fit_checkpoints
from ._fit import ForecastFit
from ._table import CheckpointTable, _checkpoint_mask, load_table

__all__ = ["forecast_holdout", "HoldoutResult", "empirical_problem_passk", "DEFAULT_K"]

DEFAULT_K = (1, 10, 100, 1000)


def empirical_problem_passk(table: CheckpointTable, k) -> np.ndarray:
    """Unbiased per-problem pass@k [P, K] of a table; NaN where samples < k."""
    n, c = table.samples, table.correct
    ok = n >= k
    safe_n = np.where(ok, n, k)
    safe_c = np.where(ok, c, 0.0)
    est = np.asarray(passk_unbiased(safe_c, safe_n, np.full_like(n, float(k))))
    return np.where(ok, est, np.nan)


def checkpoint_means(table: CheckpointTable, k: float, fits):
    """For each checkpoint of ``table`` with a problem sampled >= k times: ``(j, ok, data,
    forecasts)`` with ``ok`` those problems, ``data`` their mean unbiased pass@k and
    ``forecasts`` each fit's mean pass@k over them (how held-out checkpoints are scored)."""
    est = empirical_problem_passk(table, k)
    preds = [np.asarray(f.problem_passk(table.N, table.D, k)) for f in fits]  # [K, P] each
    for j in range(table.n_checkpoints):
        ok = table.samples[:, j] >= k
        if ok.any():
            data = float(np.mean(est[ok, j]))
            yield j, ok, data, [float(np.mean(p[j, ok])) for p in preds]


def _reuse_source(train: CheckpointTable, N: float, D: float):
    same_d = [j for j in range(train.n_checkpoints) if train.D[j] == D and train.N[j] <= N]
    if same_d:
        return max(same_d, key=lambda j: train.N[j])
    same_n = [j for j in range(train.n_checkpoints) if train.N[j] == N and train.D[j] <= D]
    if same_n:
        return max(same_n, key=lambda j: train.D[j])
    return None


@dataclasses.dataclass(frozen=True)
class HoldoutResult:
    """Scores of a held-out split.

    Attributes:
      rows: one dict per (held-out checkpoint, k): N, D, k, n_problems, data, and the forecast
        and |error| of each method ("ds3", "baseline", "reuse"; reuse is None where no trained
        checkpoint shares N or D). Reuse needs k samples of a problem at its source
        checkpoint too, so it is scored against ``reuse_data``, the test data's mean over
        those problems (equal to ``data`` when every problem qualifies).
      mean_abs_error: method -> mean |error| over the rows where every method has a forecast.
      by_k: method -> {k: mean |error| over held-out checkpoints}.
      ds3, baseline: the two fits (trained checkpoints only).
    """

    rows: list
    mean_abs_error: dict
    by_k: dict
    ds3: ForecastFit
    baseline: ForecastFit
    train: tuple
    test: tuple

    def table_text(self) -> str:
        """The per-row table as aligned text."""
        head = (
            f"{'N':>9} {'D':>9} {'k':>5} {'P':>4} {'data':>7} {'ds3':>7} {'base':>7} {'reuse':>7}"
        )
        lines = [head]
        for r in self.rows:
            reuse = "-" if r["reuse"] is None else f"{r['reuse']:.4f}"
            lines.append(
                f"{r['N']:9.3g} {r['D']:9.3g} {r['k']:5d} {r['n_problems']:4d} {r['data']:7.4f} "
                f"{r['ds3']:7.4f} {r['baseline']:7.4f} {reuse:>7}"
            )
        lines.append(
            "mean |error|: " + ", ".join(f"{m} {v:.4f}" for m, v in self.mean_abs_error.items())
        )
        return "\n".join(lines)


def forecast_holdout(
    table,
    *,
    train,
    test=None,
    k=DEFAULT_K,
    fit_kwargs: dict | None = None,
    baseline_kwargs: dict | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> HoldoutResult:
    """Fit DS3 and the baseline on the ``train`` checkpoints and score the ``test`` ones.

    Args:
      table: as for :func:`fit_checkpoints`.
      train, test: checkpoints, each a callable ``f(N, D) -> bool``, a boolean mask over the
        table's checkpoints, or a sequence of (N, D) pairs; ``test`` defaults to the rest.
      k: the numbers of samples scored (default 1, 10, 100, 1000).
      fit_kwargs, baseline_kwargs: passed to :func:`fit_checkpoints` / :func:`fit_baseline`.
      progress: ``progress(label, done, total)`` while fitting.

    Returns a :class:`HoldoutResult`.
    """
    tab = load_table(table)
    m_train = _checkpoint_mask(tab, train)
    m_test = ~m_train if test is None else _checkpoint_mask(tab, test)
    if not m_train.any():
        raise ValueError("train selects no checkpoint")
    if not m_test.any():
        raise ValueError("test selects no checkpoint")
    if np.any(m_train & m_test):
        raise ValueError("a checkpoint is in both train and test")
    tr, te = tab.select(m_train), tab.select(m_test)
    k_arr = np.atleast_1d(np.asarray(k, float))
    if k_arr.size == 0 or np.any(~np.isfinite(k_arr) | (k_arr < 1) | (k_arr != np.round(k_arr))):
        # 1.5 was scored as k = 1
        raise ValueError(f"k must be whole numbers >= 1, got {np.atleast_1d(k).tolist()}")
    ks = [int(x) for x in k_arr]

    def cb(label):
        return None if progress is None else (lambda d, t: progress(label, d, t))

    ds3 = fit_checkpoints(tr, progress=cb("DS3 fit"), **(fit_kwargs or {}))
    base = fit_baseline(tr, progress=cb("baseline fit"), **(baseline_kwargs or {}))
    rows = []
    for kk in ks:
        est_tr = empirical_problem_passk(tr, kk)
        est_te = empirical_problem_passk(te, kk)
        for j, ok, data, (f_ds3, f_base) in checkpoint_means(te, kk, (ds3, base)):
            src = _reuse_source(tr, te.N[j], te.D[j])
            reuse = reuse_data = None
            if src is not None:
                # reuse needs k samples at the source too: it is scored on those problems
                # (against the test data on the same problems, not on all of them)
                ok2 = ok & (tr.samples[:, src] >= kk)
                if ok2.any():
                    reuse = float(np.mean(est_tr[ok2, src]))
                    reuse_data = float(np.mean(est_te[ok2, j]))
            rows.append(
                dict(
                    N=float(te.N[j]),
                    D=float(te.D[j]),
                    k=kk,
                    n_problems=int(ok.sum()),
                    data=data,
                    ds3=f_ds3,
                    baseline=f_base,
                    reuse=reuse,
                    reuse_data=reuse_data,
                )
            )
    for r in rows:
        for m in ("ds3", "baseline"):
            r[f"err_{m}"] = abs(r[m] - r["data"])
        r["err_reuse"] = None if r["reuse"] is None else abs(r["reuse"] - r["reuse_data"])
    full = [r for r in rows if r["reuse"] is not None]
    use = full if full else rows
    methods = ("ds3", "baseline", "reuse") if full else ("ds3", "baseline")
    mae = {m: float(np.mean([r[f"err_{m}"] for r in use])) for m in methods}
    by_k = {
        m: {
            kk: float(np.mean([r[f"err_{m}"] for r in use if r["k"] == kk]))
            for kk in ks
            if any(r["k"] == kk for r in use)
        }
        for m in methods
    }
    return HoldoutResult(
        rows=rows,
        mean_abs_error=mae,
        by_k=by_k,
        ds3=ds3,
        baseline=base,
        train=tuple(tr.checkpoints()),
        test=tuple(te.checkpoints()),
    )
