"""Arm models of a combinatorial restless bandit.

An *arms model* says, for a joint state (one ordered state per arm) and an action vector, how
each arm's next state is distributed. Arms move independently of each other given the action.
The rewards ``rewards[j, s]`` are paid on the state ``s`` an arm *lands in*.

Three models:

- :class:`Arms`: general arrays, ``transitions[j, a_j, s, s']`` with the action vector the pull
  vector (one 0/1 entry per arm).
- :class:`MultiStateArms`: the birth–death form of the SEQUOIA paper (a pulled / unpulled arm
  moves up one state with probability ``p_active[j]`` / ``p_passive[j]``, otherwise down one,
  clipped at the ends).
- :class:`InterventionArms`: the action is a 0/1 vector over ``N`` interventions; arm ``j``
  moves up with a sigmoid probability of the weighted interventions that hit it (the paper's
  "multiple interventions" domain), otherwise down one.

Every model offers the same array interface (all vectorised over a batch):

- ``next_state_distribution(states[B, J], actions[B, n]) -> [B, J, S]``
- ``arm_matrices(action[n]) -> [J, S, S]`` (row ``s`` is the next-state law of an arm in ``s``)
- ``expected_reward(states, actions) -> [B]``: ``sum_j E[r_j(s'_j) | s_j, a]``
- ``linear_reward(state)``: ``(base, delta)`` with ``expected_reward(state, a) = base + delta @ a``
  when the one-step reward is linear in the action, else ``None``.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from engine.errors import InvalidInputError
from engine.validation import as_float_array, short_repr

__all__ = ["Arms", "MultiStateArms", "InterventionArms", "birth_death_matrix"]

_TOL = 1e-9


def _frozen(arr: np.ndarray) -> np.ndarray:
    out = np.array(arr, copy=True)
    out.setflags(write=False)
    return out


def birth_death_matrix(p_up: Any, n_states: int) -> np.ndarray:
    """Transition matrices of birth–death chains: up one with ``p_up``, else down one, clipped.

    Parameters
    ----------
    p_up : array_like, shape (...)
        Probability of moving up one state.
    n_states : int
        Number of ordered states ``S >= 2``.

    Returns
    -------
    numpy.ndarray, shape (..., S, S)

    Examples
    --------
    >>> birth_death_matrix(0.7, 3).round(2).tolist()
    [[0.3, 0.7, 0.0], [0.3, 0.0, 0.7], [0.0, 0.3, 0.7]]
    """
    p = np.asarray(p_up, dtype=np.float64)
    S = int(n_states)
    out = np.zeros(p.shape + (S, S))
    for s in range(S):
        up = min(s + 1, S - 1)
        down = max(s - 1, 0)
        out[..., s, up] += p
        out[..., s, down] += 1.0 - p
    return out


def _as_states(states: Any, J: int, S: int, where: str, *, single: bool = False, name: str = "states"
               ) -> np.ndarray:
    """The one state validator of the package: integer states in ``[0, S)`` of ``J`` arms, as int64.

    A batch (default) may be one state ``(J,)`` or ``(B, J)`` and comes back ``(B, J)``;
    ``single=True`` takes exactly one state ``(J,)`` (what a policy acts on) and returns it as is.
    Integral floats are accepted; anything else is :class:`~engine.errors.InvalidInputError`
    naming ``where`` and ``name``.
    """
    try:
        arr = np.asarray(states)
        num = arr if np.issubdtype(arr.dtype, np.integer) else np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError):  # ragged lists, strings, objects
        num = None
    integral = num is not None and (np.issubdtype(num.dtype, np.integer)
                                    or bool(np.all(np.isfinite(num)) and np.all(num == np.round(num))))
    if single:
        if num is None or num.shape != (J,) or not integral or num.min() < 0 or num.max() >= S:
            raise InvalidInputError(f"{where}: {name} must be {J} integers in [0, {S}), got {short_repr(states)}")
        return num.astype(np.int64)
    if num is not None and num.ndim == 1:
        num = num[None, :]
    if num is None or num.ndim != 2 or num.shape[1] != J:
        raise InvalidInputError(f"{where}: {name} must have shape (J,) or (B, J) with J = {J}, "
                                f"got {np.shape(states) if num is not None else short_repr(states)}")
    if not integral:
        raise InvalidInputError(f"{where}: {name} must be integers in [0, {S}), got {short_repr(states)}")
    if num.size and (num.min() < 0 or num.max() >= S):
        raise InvalidInputError(f"{where}: {name} must be integers in [0, {S}), got values in "
                                f"[{num.min()}, {num.max()}]")
    return num.astype(np.int64)


def _as_actions(actions: Any, n: int, where: str) -> np.ndarray:
    arr = np.asarray(actions)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != n:
        raise InvalidInputError(f"{where}: actions must have shape ({n},) or (B, {n}), got {np.shape(actions)}")
    f = np.asarray(arr, dtype=np.float64)
    if f.size and not np.all((f == 0) | (f == 1)):
        raise InvalidInputError(f"{where}: actions must be 0/1, got {actions!r}")
    return f.astype(np.int64)


class Arms:
    """General arms: ``transitions[j, a, s, s']`` and rewards on the landing state.

    Parameters
    ----------
    transitions : array_like, shape (J, 2, S, S)
        ``transitions[j, a, s, :]`` is the next-state distribution of arm ``j`` in state ``s``
        when it is pulled (``a = 1``) or not (``a = 0``). Rows must sum to 1.
    rewards : array_like, shape (J, S)
        ``rewards[j, s]`` is paid when arm ``j`` lands in state ``s``.

    Examples
    --------
    >>> import numpy as np
    >>> P = np.array([[[[0.9, 0.1], [0.5, 0.5]], [[0.2, 0.8], [0.1, 0.9]]]] * 2)
    >>> arms = Arms(P, [[0, 1], [0, 2]])
    >>> arms.n_arms, arms.n_states, arms.n_actions
    (2, 2, 2)
    >>> round(float(arms.expected_reward([0, 0], [1, 0])[0]), 6)
    1.0
    """

    kind = "arms"

    def __init__(self, transitions: Any, rewards: Any) -> None:
        where = "Arms()"
        P = as_float_array(transitions, "transitions", where, ndim=4)
        J, A, S, S2 = P.shape
        if A != 2 or S != S2 or J < 1 or S < 1:
            raise InvalidInputError(f"{where}: transitions must have shape (J, 2, S, S), got {P.shape}")
        self._set_common(J, S, rewards, where)
        if P.size and (P.min() < -_TOL or P.max() > 1 + _TOL):
            bad = P[(P < -_TOL) | (P > 1 + _TOL)].flat[0]
            raise InvalidInputError(f"{where}: transition probabilities must lie in [0, 1], got {bad}")
        sums = P.sum(axis=-1)
        if not np.allclose(sums, 1.0, atol=1e-8):
            idx = np.unravel_index(np.argmax(np.abs(sums - 1.0)), sums.shape)
            raise InvalidInputError(f"{where}: transitions[{', '.join(map(str, idx))}, :] sums to {sums[idx]}, not 1")
        self.transitions = _frozen(np.clip(P, 0.0, 1.0))
        self.n_actions = J

    def _set_common(self, J: int, S: int, rewards: Any, where: str) -> None:
        R = as_float_array(rewards, "rewards", where, ndim=2)
        if R.shape != (J, S):
            raise InvalidInputError(f"{where}: rewards must have shape (J, S) = ({J}, {S}), got {R.shape}")
        self.n_arms = int(J)
        self.n_states = int(S)
        self.rewards = _frozen(R)

    # ------------------------------------------------------------------ dynamics
    def next_state_distribution(self, states: Any, actions: Any) -> np.ndarray:
        """Next-state law of every arm: shape ``(B, J, S)`` for ``B`` (state, action) pairs."""
        where = f"{type(self).__name__}.next_state_distribution()"
        s = _as_states(states, self.n_arms, self.n_states, where)
        a = _as_actions(actions, self.n_actions, where)
        return self._rows(s, a)

    def _rows(self, s: np.ndarray, a: np.ndarray) -> np.ndarray:
        J = self.n_arms
        if a.shape[0] != s.shape[0]:
            a = np.broadcast_to(a, (s.shape[0], a.shape[1]))
        return self.transitions[np.arange(J)[None, :], a, s]

    def arm_matrices(self, action: Any) -> np.ndarray:
        """Per-arm transition matrices ``[J, S, S]`` under one action vector."""
        a = _as_actions(action, self.n_actions, f"{type(self).__name__}.arm_matrices()")[0]
        return self.transitions[np.arange(self.n_arms), a]

    def expected_reward(self, states: Any, actions: Any) -> np.ndarray:
        """Expected next-step reward ``sum_j E[r_j(s'_j) | s, a]`` for each pair, shape ``(B,)``."""
        where = f"{type(self).__name__}.expected_reward()"
        s = _as_states(states, self.n_arms, self.n_states, where)
        a = _as_actions(actions, self.n_actions, where)
        return self._expected(s, a)

    def _expected(self, s: np.ndarray, a: np.ndarray) -> np.ndarray:
        rows = self._rows(s, a)
        return np.einsum("bjs,js->b", rows, self.rewards)

    def linear_reward(self, state: Any) -> Optional[tuple[np.ndarray, np.ndarray]]:
        """``(base, delta)`` with ``expected_reward(state, a) = base + delta @ a`` (per arm ``base``)."""
        s = _as_states(state, self.n_arms, self.n_states, f"{type(self).__name__}.linear_reward()")[0]
        J = self.n_arms
        er = np.einsum("jas,js->ja", self.transitions[np.arange(J), :, s], self.rewards)
        return er[:, 0].copy(), er[:, 1] - er[:, 0]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(J={self.n_arms}, S={self.n_states}, n_actions={self.n_actions})"


class MultiStateArms(Arms):
    """Birth–death arms of the SEQUOIA paper.

    A pulled (unpulled) arm ``j`` moves up one state with probability ``p_active[j]``
    (``p_passive[j]``), otherwise down one; moves are clipped at the lowest and highest state.

    Parameters
    ----------
    p_passive, p_active : array_like, shape (J,)
        Up-probabilities in ``[0, 1]``.
    rewards : array_like, shape (J, S)
        Reward on the landing state; ``S`` (>= 2) is read from here.

    Examples
    --------
    >>> arms = MultiStateArms([0.1, 0.1], [0.8, 0.8], [[0, 0, 1], [0, 0, 2]])
    >>> arms.transitions.shape
    (2, 2, 3, 3)
    >>> round(float(arms.expected_reward([1, 1], [1, 0])[0]), 6)
    1.0
    """

    kind = "multistate"

    def __init__(self, p_passive: Any, p_active: Any, rewards: Any) -> None:
        where = "MultiStateArms()"
        pp = as_float_array(p_passive, "p_passive", where, ndim=1, lower=0.0, upper=1.0)
        pa = as_float_array(p_active, "p_active", where, ndim=1, lower=0.0, upper=1.0)
        if pp.shape != pa.shape or pp.size < 1:
            raise InvalidInputError(f"{where}: p_passive and p_active must be non-empty and of equal length, "
                                    f"got {pp.shape} and {pa.shape}")
        R = as_float_array(rewards, "rewards", where, ndim=2)
        if R.shape[0] != pp.size or R.shape[1] < 2:
            raise InvalidInputError(f"{where}: rewards must have shape (J, S) with J = {pp.size} and S >= 2, "
                                    f"got {R.shape}")
        S = R.shape[1]
        P = np.stack([birth_death_matrix(pp, S), birth_death_matrix(pa, S)], axis=1)
        super().__init__(P, R)
        self.p_passive = _frozen(pp)
        self.p_active = _frozen(pa)


class InterventionArms(Arms):
    """Arms driven by ``N`` interventions through a sigmoid link (the multiple-interventions domain).

    With ``v_j = theta[j] + weights[j] @ a`` (``a`` the 0/1 intervention vector), arm ``j`` moves
    up one state with probability

    ``p_j(a) = scale * amp[j] * (sigmoid(slope[j] * v_j - x0[j]) - sigmoid(-x0[j])) + floor``

    and down one otherwise (clipped at the ends); the subtraction makes ``p_j(0) = floor`` when
    ``theta = 0``. The expected reward is not linear in ``a``.

    Parameters
    ----------
    weights : array_like, shape (J, N)
        Non-negative weights of each intervention on each arm.
    rewards : array_like, shape (J, S)
    amp, slope, x0 : array_like, shape (J,)
        Sigmoid amplitude (in [0, 1]), slope (> 0) and midpoint.
    theta : array_like, shape (J,), optional
        Baseline input (default 0).
    scale, floor : float
        ``scale * amp + floor`` must be <= 1 so probabilities stay in [0, 1] (defaults 0.98, 0.01).

    Examples
    --------
    >>> arms = InterventionArms([[3.0, 3.0]], [[0.0, 1.0]], amp=[1.0], slope=[1.0], x0=[5.0])
    >>> arms.n_actions
    2
    >>> round(float(arms.up_probability([[1, 1]])[0, 0]), 2)
    0.72
    """

    kind = "intervention"

    def __init__(self, weights: Any, rewards: Any, *, amp: Any, slope: Any, x0: Any, theta: Any = None,
                 scale: float = 0.98, floor: float = 0.01) -> None:
        where = "InterventionArms()"
        W = as_float_array(weights, "weights", where, ndim=2, lower=0.0)
        J, N = W.shape
        if J < 1 or N < 1:
            raise InvalidInputError(f"{where}: weights must have shape (J, N) with J, N >= 1, got {W.shape}")
        R = as_float_array(rewards, "rewards", where, ndim=2)
        if R.shape[0] != J or R.shape[1] < 2:
            raise InvalidInputError(f"{where}: rewards must have shape (J, S) with J = {J} and S >= 2, got {R.shape}")
        self._set_common(J, R.shape[1], R, where)
        self.amp = _frozen(as_float_array(amp, "amp", where, shape=(J,), lower=0.0, upper=1.0))
        self.slope = _frozen(as_float_array(slope, "slope", where, shape=(J,), lower=0.0))
        self.x0 = _frozen(as_float_array(x0, "x0", where, shape=(J,)))
        self.theta = _frozen(np.zeros(J) if theta is None else as_float_array(theta, "theta", where, shape=(J,)))
        self.scale = float(scale)
        self.floor = float(floor)
        if not (0 <= self.floor <= 1 and self.scale >= 0 and self.scale * float(self.amp.max()) + self.floor <= 1 + 1e-12):
            raise InvalidInputError(f"{where}: need 0 <= floor and scale * max(amp) + floor <= 1, got scale={scale}, "
                                    f"floor={floor}, max(amp)={float(self.amp.max())}")
        self.weights = _frozen(W)
        self.n_actions = int(N)
        self._bd = birth_death_matrix(np.array([0.0, 1.0]), self.n_states)  # [2, S, S]: down-only / up-only

    def up_probability(self, actions: Any) -> np.ndarray:
        """``p_j(a)`` for each action row: shape ``(B, J)``."""
        a = _as_actions(actions, self.n_actions, "InterventionArms.up_probability()")
        return self._p(a)

    def _p(self, a: np.ndarray) -> np.ndarray:
        v = self.theta[None, :] + a @ self.weights.T
        sig = 1.0 / (1.0 + np.exp(-(self.slope[None, :] * v - self.x0[None, :])))
        base = 1.0 / (1.0 + np.exp(self.x0))
        p = self.scale * self.amp[None, :] * (sig - base[None, :]) + self.floor
        return np.clip(p, 0.0, 1.0)

    def _rows(self, s: np.ndarray, a: np.ndarray) -> np.ndarray:
        if a.shape[0] != s.shape[0]:
            a = np.broadcast_to(a, (s.shape[0], a.shape[1]))
        p = self._p(a)  # [B, J]
        down = self._bd[0][s]  # [B, J, S]
        up = self._bd[1][s]
        return p[..., None] * up + (1.0 - p[..., None]) * down

    def arm_matrices(self, action: Any) -> np.ndarray:
        a = _as_actions(action, self.n_actions, "InterventionArms.arm_matrices()")
        p = self._p(a)[0]
        return p[:, None, None] * self._bd[1][None] + (1.0 - p[:, None, None]) * self._bd[0][None]

    def linear_reward(self, state: Any) -> None:
        """``None``: the sigmoid response makes the one-step reward non-linear in the action."""
        return None
