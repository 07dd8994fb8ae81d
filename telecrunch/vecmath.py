"""Array versions of the deterministic elementary functions (compiled loops)."""

from __future__ import annotations

import numba
import numpy as np

from telecrunch.detmath import det_exp, det_log, det_sin_turns


@numba.njit(cache=True)
def sin_turns_array(turns):
    out = np.empty(turns.shape[0], np.float64)
    for i in range(turns.shape[0]):
        out[i] = det_sin_turns(turns[i])
    return out


@numba.njit(cache=True)
def exp_array(x):
    out = np.empty(x.shape[0], np.float64)
    for i in range(x.shape[0]):
        out[i] = det_exp(x[i])
    return out


@numba.njit(cache=True)
def log_array(x):
    out = np.empty(x.shape[0], np.float64)
    for i in range(x.shape[0]):
        out[i] = det_log(x[i])
    return out
