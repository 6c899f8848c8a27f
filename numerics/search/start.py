"""Where a search starts: a seeded random network, or a given one (ladder, construction)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from cbn.numerics.inputs import InputError
from cbn.numerics.network import CircularCNN

#: Kinds of start; the first is the default of a sweep (:class:`cbn.numerics.sweep.SweepSpec`).
KINDS = ("ladder", "random", "construction", "path")


@dataclass(frozen=True)
class Start:
    """One value for where a run starts, read at two levels.

    * A sweep (:class:`cbn.numerics.sweep.SweepSpec`) gives the recipe: ``kind`` (``"ladder"``:
      the previous depth's network padded to this one; ``"random"``: a seeded random network;
      ``"construction"``: the target's explicit network; ``"path"``: a seeded random network
      moved along the weight-decay path of :mod:`cbn.numerics.search.path`, which uses nothing
      of the target but its samples) and ``noise``, the relative size of a
      seeded Gaussian perturbation of a ladder or construction start's filters (0: none; see
      :func:`cbn.numerics.starts.perturbed_network`). The sweep builds each run's network, so its
      ``seed`` and ``network`` stay unset: ``Start("construction", noise=0.03)``.
    * :func:`cbn.numerics.search.min_norm_fit` takes the start itself: :meth:`random` (a random
      network seeded ``seed``), :meth:`path` (the same, then the path) or :meth:`given` (that
      network, used as given; a perturbed
      start is perturbed when it is built, so ``noise`` must be 0 here). Restart ``r >= 1``
      of a search always starts at random with seed ``seed + r``.

    ``kind=None`` is the historical spelling of ``"random"``.

    Raises
    ------
    InputError
        On an unknown kind, a negative or non-finite noise, noise with a random start, or a
        network with a random start.
    """

    kind: str | None = "random"
    noise: float = 0.0
    seed: int = 0
    network: CircularCNN | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind is None:
            object.__setattr__(self, "kind", "random")
        if self.kind not in KINDS:
            raise InputError(f"init must be one of {KINDS}, got {self.kind!r}")
        if isinstance(self.noise, bool) or not isinstance(self.noise, (int, float)) or not (
                math.isfinite(self.noise) and self.noise >= 0):
            raise InputError(f"start_noise must be finite and >= 0, got {self.noise}")
        object.__setattr__(self, "noise", float(self.noise))
        if self.noise > 0 and self.kind in ("random", "path"):
            raise InputError(f"start_noise perturbs a construction or ladder start; "
                             f"init={self.kind!r} has none")
        if self.network is not None and self.kind in ("random", "path"):
            raise InputError(f"a {self.kind} start has no network: use Start.given(network)")

    @classmethod
    def random(cls, seed: int = 0) -> Start:
        """A random network seeded ``seed`` (scheme: ``SearchSettings.init_scheme``)."""
        return cls("random", seed=int(seed))

    @classmethod
    def path(cls, seed: int = 0) -> Start:
        """A random network seeded ``seed``, moved along the weight-decay path
        (:mod:`cbn.numerics.search.path`) before the minimal-norm search."""
        return cls("path", seed=int(seed))

    @classmethod
    def given(cls, network: CircularCNN, seed: int = 0, kind: str = "construction") -> Start:
        """Start from ``network`` (copied by the search); ``seed`` numbers the run and seeds
        any further restarts; ``kind`` says where the network came from."""
        return cls(kind, seed=int(seed), network=network)
