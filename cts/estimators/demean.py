"""The within transformation: demeaning by one or more sets of fixed effects (pyfixest's)."""

from __future__ import annotations

import numpy as np
from pyfixest.estimation import demean as _pyfixest_demean

from cts.core.exceptions import PanelError

__all__ = ["DEMEAN_TOLERANCE", "demean"]

DEMEAN_TOLERANCE = 1e-10  # tight enough that coefficients match linearmodels to 1e-8


def demean(values: np.ndarray, codes: np.ndarray, tol: float = DEMEAN_TOLERANCE) -> np.ndarray:
    """Demean the columns of ``values`` by the fixed effects in the columns of ``codes``.

    Alternating projections (pyfixest's Rust demeaner), unweighted.

    Parameters
    ----------
    values
        ``(n,)`` or ``(n, k)`` array.
    codes
        ``(n, g)`` integer codes, one column per set of fixed effects (team, week).
    tol
        Convergence tolerance.

    Raises
    ------
    PanelError
        If the projections do not converge (e.g. teams and weeks that are not connected).
    """
    values = np.ascontiguousarray(np.asarray(values, dtype=float).reshape(len(values), -1))
    codes = np.ascontiguousarray(np.asarray(codes).reshape(len(values), -1), dtype=np.uint64)
    demeaned, converged = _pyfixest_demean(values, codes, np.ones(len(values)), tol=tol)
    if not converged:
        raise PanelError(
            "fixed-effects demeaning did not converge; check for disconnected teams/weeks"
        )
    return demeaned
