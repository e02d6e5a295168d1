"""What a fit did: one record per phase (``schedule_``) and the loss at each step."""

from typing import NamedTuple

import numpy as np


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


def phase_history(name, t, n_steps, learning_rate, n_rows, converged, losses):
    """The History of one phase."""
    record = {"name": name, "t": t, "n_steps": n_steps, "learning_rate": learning_rate,
              "n_rows": n_rows, "converged": converged}
    return History((record,), tuple(losses))
