"""Small two-player continuous-control environments (numpy dynamics) for :func:`games.qarl.train`.

:class:`AdversarialPointMass`: a point mass on a line. The protagonist pushes with force
``a in [-action_max, action_max]`` and wants to hold the mass at the origin; the adversary pushes
with force ``b in [-adversary_max, adversary_max]`` and receives the negative reward (zero sum).
Semi-implicit Euler dynamics::

    v <- v + dt * (a + b - friction * v) / mass
    x <- x + dt * v
    reward = -(x**2 + 0.1 * v**2 + 0.01 * a**2)

Episodes start at ``x ~ U(-1, 1), v = 0`` and are truncated after ``horizon`` steps; they
terminate early (reward ``-10`` for that step) when ``|x| > 5``. ``mass`` and ``friction`` are
the parameters perturbed by the robustness grid of :func:`games.qarl.evaluate_robustness`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.errors import InvalidInputError
from engine.validation import check_int, check_real

__all__ = ["AdversarialPointMass"]


class AdversarialPointMass:
    """A point mass pushed by a protagonist and an adversary (see the module docstring).

    Parameters
    ----------
    mass, friction, dt : float
    horizon : int
    action_max, adversary_max : float

    Examples
    --------
    >>> import numpy as np
    >>> env = AdversarialPointMass()
    >>> o = env.reset(np.random.default_rng(0))
    >>> o2, r, done, trunc = env.step([0.0], [0.0])
    >>> o2.shape, r <= 0, done, trunc
    ((2,), True, False, False)
    """

    obs_dim = 2

    def __init__(self, *, mass: float = 1.0, friction: float = 0.5, dt: float = 0.1, horizon: int = 50,
                 action_max: float = 1.0, adversary_max: float = 0.4) -> None:
        where = "AdversarialPointMass()"
        self.mass = check_real(mass, "mass", where, lower=0.0, lower_strict=True)
        self.friction = check_real(friction, "friction", where, lower=0.0)
        self.dt = check_real(dt, "dt", where, lower=0.0, lower_strict=True)
        self.horizon = check_int(horizon, "horizon", where, lower=1)
        self.action_max = check_real(action_max, "action_max", where, lower=0.0, lower_strict=True)
        self.adversary_max = check_real(adversary_max, "adversary_max", where, lower=0.0)
        self._state = np.zeros(2)
        self._t = 0

    def params(self) -> dict:
        """Constructor arguments (what :meth:`games.qarl.QARLAgent.save` stores)."""
        return {"mass": self.mass, "friction": self.friction, "dt": self.dt, "horizon": self.horizon,
                "action_max": self.action_max, "adversary_max": self.adversary_max}

    def reset(self, rng: np.random.Generator) -> np.ndarray:
        """Start a new episode; returns the observation ``(x, v)``."""
        if not isinstance(rng, np.random.Generator):
            raise InvalidInputError(f"AdversarialPointMass.reset(): rng must be a numpy Generator, got {rng!r}")
        self._state = np.array([rng.uniform(-1.0, 1.0), 0.0])
        self._t = 0
        return self._state.astype(np.float32)

    def step(self, a: Any, b: Any) -> tuple:
        """Apply protagonist force ``a`` and adversary force ``b`` (clipped to their ranges).

        Returns ``(obs, reward, terminated, truncated)``; the reward is the protagonist's.
        """
        a = float(np.clip(np.asarray(a, dtype=float).reshape(-1)[0], -self.action_max, self.action_max))
        b = float(np.clip(np.asarray(b, dtype=float).reshape(-1)[0], -self.adversary_max, self.adversary_max))
        x, v = self._state
        v = v + self.dt * (a + b - self.friction * v) / self.mass
        x = x + self.dt * v
        self._state = np.array([x, v])
        self._t += 1
        terminated = abs(x) > 5.0
        reward = -10.0 if terminated else -(x * x + 0.1 * v * v + 0.01 * a * a)
        truncated = self._t >= self.horizon and not terminated
        return self._state.astype(np.float32), float(reward), bool(terminated), bool(truncated)

    def reference_return(self, episodes: int = 20) -> float:
        """Twice the mean return of a PD controller without adversary: the default teacher threshold."""
        rng = np.random.default_rng(12345)
        env = AdversarialPointMass(**self.params())
        total = 0.0
        for _ in range(episodes):
            o = env.reset(rng)
            done = trunc = False
            while not (done or trunc):
                o, r, done, trunc = env.step([-2.0 * o[0] - 1.0 * o[1]], [0.0])
                total += r
        return 2.0 * total / episodes
