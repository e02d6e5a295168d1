"""What a fit did: one record per phase (``schedule_``) and the loss at each step."""

from enum import Enum
from typing import NamedTuple

import numpy as np


class PhaseKind(str, Enum):
    """What a phase of a fit is; its value names it in ``schedule_``."""

    POWER = "power"  # the cold start's large-noise phase (a power iteration)
    INTERMEDIATE = "intermediate"  # the cold start's levels in between
    COLD_FINAL = "cold-final"  # single-level: the EM level on the subsample
    START_POWER = "start-power"  # default fit: the power start converged on the subsample
    START_KMEANS = "start-kmeans"  # default fit: the k-means start converged there
    FINAL_SUBSAMPLE = "final-subsample"  # single-level: one step on a subsample of all rows
    FINAL = "final"  # the final phase on all rows
    AVERAGING = "averaging"  # single-level: the averaged fresh-noise iterates
    PARTIAL_FIT_SETTLE = "partial_fit-settle"  # single-level partial_fit: cold-final on the chunk
    PARTIAL_FIT = "partial_fit"  # partial_fit's phase on a chunk
    STEP = "step"  # one step of sklearn_ddpm_gmm.objective.ddpm_step


class History(NamedTuple):
    """The phases a fit ran, in order; immutable, so a phase returns its own
    and the pipeline joins them (``first.then(second)``)."""

    records: tuple = ()  # one dict per phase: name, t, n_steps, learning_rate, n_rows, converged
    losses: tuple = ()  # the loss at each step of those phases

    def then(self, other):
        """This history followed by ``other``."""
        return History(self.records + other.records, self.losses + other.losses)

    @property
    def schedule(self):
        """``schedule_``: a list of fresh dicts (the records stay unchanged)."""
        return [dict(record) for record in self.records]

    @property
    def loss_curve(self):
        """``loss_curve_``: the losses as an array."""
        return np.asarray(self.losses)


def phase_history(kind, *, t, n_steps, learning_rate, n_rows, converged, losses):
    """The History of one phase of PhaseKind ``kind``."""
    record = {"name": kind.value, "t": t, "n_steps": n_steps, "learning_rate": learning_rate,
              "n_rows": n_rows, "converged": converged}
    return History((record,), tuple(losses))
