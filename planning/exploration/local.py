"""Fast planners: utility-greedy and a learned policy over the local viewpoint graph.

:class:`UtilityGreedy` (ARiADNE-style, no learning) picks the viewpoint maximising
``value / (d + beta * d_w + spacing)`` where ``d`` is the graph distance from the robot and
``d_w`` the graph distance from the viewpoint to the current waypoint (0 without one). The value
is the frontier utility (``value="frontier"``, the number of visible frontier cells) or the
information gain (``value="gain"``: the unknown cells a scan from the viewpoint is sure to
reveal, each weighted by the unknown cells around it, see
:class:`~planning.exploration.viewpoints.ViewpointGraph`), which stops the robot from spending
travel on tiny shadows and on frontier cells no scan from there can resolve while open unknown
space waits. :class:`CellGreedy` applies the gain rule at cell level: grid path costs, and the
robot follows the 8-connected shortest path like the classic nearest frontier.

:class:`LearnedPolicy` scores the ``n_candidates`` best viewpoints of that rule with a torch MLP
over per-node features (position relative to the robot, utility, visited flag, distance from
the robot, distance to the waypoint and its decrease) plus a mean-pooled context, added to the
greedy log-score (a residual policy: an untrained policy, whose last layer is zero, *is*
utility-greedy). :func:`planning.exploration.training.train_policy` trains it with REINFORCE;
while :attr:`LearnedPolicy.training` is set, every decision is sampled and recorded in
:attr:`LearnedPolicy.trace` as a :class:`Decision` (log-probability, entropy, waypoint and the
robot's distance to it before the move), all the trainer needs to compute rewards.

These planners read the simulation through :class:`~planning.exploration.state.ExplorationState`
and know nothing of the driver (:mod:`planning.exploration.explore`), which imports them.
torch is imported inside the functions that build or run the network: it is heavy, and the greedy
planners here do not need it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

import numpy as np

from engine import checkpoint
from engine.errors import InvalidInputError
from engine.seeding import resolve_seed
from engine.validation import check_choice, check_int, check_real
from planning.exploration.sensing import grid_backtrack, grid_distances, grid_path_to_frontier

__all__ = ["UtilityGreedy", "CellGreedy", "LearnedPolicy", "Decision", "greedy_scores"]

N_FEATURES = 8

#: What a greedy score divides by the cost: the frontier utility or the information-weighted gain.
VALUES = ("frontier", "gain")
#: Checkpoint kind and state layout of :meth:`LearnedPolicy.save` (:mod:`engine.checkpoint`); files
#: of the earlier plain ``torch.save`` format are refused.
_KIND = "planning.exploration.LearnedPolicy"
_VERSION = 3  # 3 adds "training": the settings of the last train_policy run (files of version 2 still load)
#: Most settings a checkpoint's ``training`` mapping may hold (ExplorationTrainingConfig has 12).
_MAX_TRAINING_KEYS = 64


def greedy_scores(state: Any, cand: np.ndarray, waypoint: Optional[int], beta: float, value: str = "frontier"
                  ) -> tuple[np.ndarray, np.ndarray]:
    """``(scores, d_w)`` of the utility-greedy rule for candidate nodes ``cand``."""
    g = state.graph
    u = (g.gain if value == "gain" else g.utility)[cand].astype(np.float64)
    d = state.dist[cand]
    if waypoint is not None:
        dw = state.dist_from(int(waypoint))[cand]
        dw = np.where(np.isfinite(dw), dw, 1e6)
    else:
        dw = np.zeros(len(cand))
    return u / (d + beta * dw + state.spacing), dw


class UtilityGreedy:
    """Next viewpoint by utility per path cost, biased towards the current waypoint.

    Parameters
    ----------
    beta : float
        Weight of the viewpoint's distance to the waypoint in the cost.
    value : {"frontier", "gain"}
        Frontier utility (ARiADNE) or information-weighted gain (see the module docs).
    local_radius : float, optional
        TARE-style local horizon: with a waypoint, candidates within this graph distance of the
        robot are chosen first, by utility per cost without the waypoint bias; the bias applies
        only when none is left within it. None (default): the bias always applies (the rule of
        ``fare_learned``'s greedy prior; :class:`CellGreedy`'s ``horizon`` is the cell-level
        counterpart that ``fare`` uses).

    Examples
    --------
    >>> UtilityGreedy(beta=1.0).params()
    {'local': 'utility_greedy', 'beta': 1.0, 'value': 'frontier', 'local_radius': None}
    """

    name = "utility_greedy"

    def __init__(self, *, beta: float = 1.0, value: str = "frontier", local_radius: Optional[float] = None) -> None:
        self.beta = check_real(beta, "beta", "UtilityGreedy()", lower=0.0)
        self.value = check_choice(value, "value", "UtilityGreedy()", VALUES)
        self.local_radius = None if local_radius is None else check_real(
            local_radius, "local_radius", "UtilityGreedy()", lower=0.0)
        self.last_waypoint: Optional[int] = None

    def params(self) -> dict[str, Any]:
        return {"local": self.name, "beta": self.beta, "value": self.value, "local_radius": self.local_radius}

    def reset(self, state: Any, seed: Any) -> None:
        self.last_waypoint = None

    def choose(self, state: Any, waypoint: Optional[int]) -> Optional[int]:
        self.last_waypoint = waypoint
        cand = state.candidates()
        if not len(cand):
            return waypoint if waypoint is not None and waypoint != state.robot else None
        if waypoint is not None and self.local_radius is not None:
            near = cand[state.dist[cand] <= self.local_radius]
            if len(near):
                cand, waypoint = near, None
        scores, _ = greedy_scores(state, cand, waypoint, self.beta, self.value)
        return int(cand[int(np.argmax(scores))])


class CellGreedy:
    """Gain-greedy at cell level: viewpoint targets by grid path cost, followed cell by cell.

    A grid planner (``moves_on_grid``): it keeps the viewpoint graph for its values but moves
    like the classic nearest frontier, one 8-connected cell at a time along the shortest path
    over known free cells, sensing after every cell. Every ``replan_moves`` cell moves (default:
    the lattice ``spacing``), or as soon as its target's gain drops to 0, it re-targets: one
    grid Dijkstra from the robot gives the path cost ``d`` to every viewpoint with a positive
    gain (see :class:`UtilityGreedy`) and the target maximises ``gain / (d + beta * d_w + spacing)``, ``d_w`` the grid
    distance from the viewpoint to the waypoint (0 without one; with ``horizon``, viewpoints
    within ``horizon`` sensor ranges of path cost are chosen first without the waypoint term,
    TARE's local horizon, and the waypoint is asked for only when none is left there).
    When no viewpoint with a positive gain is reachable it walks to the nearest frontier cell.

    With ``worthwhile`` (FARE's default local planner) the waypoint guides instead of biasing:
    at every re-target the planner asks for its waypoint, which FARE gives as a
    :class:`~planning.exploration.state.Guide`. While some viewpoint facing open unknown space
    (``guide.open``; any viewpoint when there is none) scores at least ``worthwhile`` (gain per
    cell of path cost) the best of them is the target, plain gain-greedy; otherwise the target is
    the best-scoring viewpoint of the waypoint's community (``guide.targets``), and when none of
    them is reachable the robot walks to the nearest of the community's open frontier cells
    (``guide.cells``). A waypoint given as a plain node keeps the greedy choice.

    Termination: each target is a reachable viewpoint with a positive gain, i.e. some unknown
    cell that sensing there is sure to reveal, and each fallback or guided walk ends on a frontier cell;
    re-targeting happens within ``replan_moves`` moves, and a path is at most ``rows * cols``
    cells, so the unknown area shrinks at least every ``rows * cols`` cell moves.

    Parameters
    ----------
    beta : float
        Weight of the viewpoint's grid distance to the waypoint.
    horizon : float, optional
        Local horizon in sensor ranges of path cost (None: the waypoint term always applies).
    replan_moves : int, optional
        Cell moves between re-targets (default: the lattice spacing of the run).
    worthwhile : float, optional
        Score (gain per cell of path cost) below which the waypoint decides (see above; None: the
        ``beta`` / ``horizon`` rule).

    Examples
    --------
    >>> CellGreedy().params()["local"]
    'cell_greedy'
    """

    name = "cell_greedy"
    moves_on_grid = True
    uses_graph = True

    def __init__(self, *, beta: float = 0.3, horizon: Optional[float] = None,
                 replan_moves: Optional[int] = None, worthwhile: Optional[float] = None) -> None:
        where = "CellGreedy()"
        self.beta = check_real(beta, "beta", where, lower=0.0)
        self.horizon = None if horizon is None else check_real(horizon, "horizon", where, lower=0.0)
        self.worthwhile = None if worthwhile is None else check_real(worthwhile, "worthwhile", where, lower=0.0)
        self.replan_moves = None if replan_moves is None else check_int(replan_moves, "replan_moves", where, lower=1)
        self.last_waypoint: Optional[int] = None
        self.path = np.zeros((0, 2), dtype=np.int64)
        self.k = 0
        self.moves = 0
        self.target: Optional[int] = None
        self.retargets = 0

    def params(self) -> dict[str, Any]:
        return {"local": self.name, "beta": self.beta, "value": "gain", "horizon": self.horizon,
                "replan_moves": self.replan_moves, "worthwhile": self.worthwhile}

    def reset(self, state: Any, seed: Any) -> None:
        self.last_waypoint = None
        self.path = np.zeros((0, 2), dtype=np.int64)
        self.k = 0
        self.moves = 0
        self.target = None
        self.retargets = 0

    def moves_per_step(self, state: Any) -> int:
        """Cell moves that make one step of :func:`~planning.exploration.explore.explore` (the spacing)."""
        return int(state.spacing)

    def _retarget(self, state: Any, waypoint: Optional[Callable[[], Optional[int]]]) -> None:
        g = state.graph
        h, w = state.belief.shape
        r, c = state.position
        pops = 10 * h * w + 10
        self.moves = 0
        self.k = 1
        self.retargets += 1
        val = g.gain[: g.n]
        cand = np.nonzero(val > 0)[0]
        if len(cand):
            dist, prev = grid_distances(state.belief, r, c, pops)
            cells = g.rows[cand] * w + g.cols[cand]
            d = dist[cells]
            ok = np.isfinite(d) & (d > 0)
            cand, cells, d = cand[ok], cells[ok], d[ok]
            if len(cand) and self.worthwhile is not None:
                self._guided(state, waypoint, cand, cells, d, val, prev)
                return
            if len(cand):
                near = (d <= self.horizon * state.sensor_range if self.horizon is not None
                        else np.zeros(len(d), dtype=bool))
                wp = None if (near.any() or waypoint is None) else waypoint()
                wp = getattr(wp, "node", wp)  # FARE's Guide or a plain node
                self.last_waypoint = wp
                if near.any():
                    cand, cells, d = cand[near], cells[near], d[near]
                dw = np.zeros(len(cand))
                if wp is not None and self.beta > 0:
                    dwp, _ = grid_distances(state.belief, int(g.rows[wp]), int(g.cols[wp]), pops)
                    dw = np.where(np.isfinite(dwp[cells]), dwp[cells], 1e6)
                b = int(np.argmax(val[cand] / (d + self.beta * dw + state.spacing)))
                self.target = int(cand[b])
                self.path = grid_backtrack(prev, w, r * w + c, int(cells[b]))
                return
        self.target = None
        self.path = grid_path_to_frontier(state.belief, state.frontier, r, c, pops)

    def _guided(self, state: Any, waypoint: Any, cand: np.ndarray, cells: np.ndarray, d: np.ndarray,
                val: np.ndarray, prev: np.ndarray) -> None:
        """The ``worthwhile`` rule (see the class docs): sets ``target`` and ``path``."""
        w = state.belief.shape[1]
        r, c = state.position
        score = val[cand] / (d + state.spacing)
        guide = waypoint() if waypoint is not None else None
        node = getattr(guide, "node", guide)
        self.last_waypoint = None if node is None else int(node)
        openm = getattr(guide, "open", None)
        pool = openm[cand] if openm is not None else np.ones(len(cand), dtype=bool)
        b = int(np.argmax(np.where(pool, score, -1.0))) if pool.any() else int(np.argmax(score))
        if not pool.any() or score[b] < self.worthwhile:
            targets = getattr(guide, "targets", None)
            mine = np.isin(cand, targets) if targets is not None else np.zeros(len(cand), dtype=bool)
            gcells = getattr(guide, "cells", None)
            if mine.any():
                idx = np.nonzero(mine)[0]
                b = int(idx[np.argmax(score[idx])])
            elif gcells is not None and gcells.any():
                # the waypoint's open frontier is seen from no lattice viewpoint: walk to its nearest cell
                path = grid_path_to_frontier(state.belief, gcells, r, c, 10 * state.belief.size + 10)
                if len(path) >= 2:
                    self.target, self.path = None, path
                    return
        self.target = int(cand[b])
        self.path = grid_backtrack(prev, w, r * w + c, int(cells[b]))

    def next_cell(self, state: Any, waypoint: Optional[Callable[[], Optional[int]]] = None
                  ) -> Optional[tuple[int, int]]:
        """The next 8-neighbouring cell (re-targeting first when due); None when no frontier is reachable.

        ``waypoint`` is called (only when re-targeting) for the current waypoint node.
        """
        per = self.replan_moves if self.replan_moves is not None else int(state.spacing)
        done = self.k >= len(self.path) or self.moves >= per
        lost = (self.target is not None and state.graph.gain[self.target] <= 0) or (
            self.target is None and len(self.path) > 0 and not state.frontier[int(self.path[-1, 0]), int(self.path[-1, 1])])
        if done or lost or tuple(int(v) for v in self.path[self.k - 1]) != tuple(state.position):
            self._retarget(state, waypoint)
            if len(self.path) < 2:
                return None
        cell = (int(self.path[self.k, 0]), int(self.path[self.k, 1]))
        self.k += 1
        self.moves += 1
        return cell


@dataclass(frozen=True)
class Decision:
    """One sampled choice of a :class:`LearnedPolicy` in training mode (what REINFORCE needs).

    ``log_prob`` and ``entropy`` are torch scalars (differentiable in the weights); ``waypoint``
    the waypoint node the choice was made under (None without one) and ``distance_before`` the
    robot's graph distance to it at that moment (nan without one), from which the trainer
    computes the waypoint-adherence reward once the move is made.
    """

    log_prob: Any
    entropy: Any
    waypoint: Optional[int]
    distance_before: float


def _mlp(hidden: int):
    import torch.nn as nn

    # layers built in the same order as before (their default init draws from torch's RNG)
    first, middle, last = nn.Linear(2 * N_FEATURES, hidden), nn.Linear(hidden, hidden), nn.Linear(hidden, 1)
    net = nn.Sequential(first, nn.Tanh(), middle, nn.Tanh(), last)
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    return net


def _device(device: Optional[str]) -> str:
    import torch

    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    return str(device)


def _check_training(ck: Any) -> Optional[dict[str, Any]]:
    """A checkpoint's ``training`` entry: None, or a mapping of setting names to plain values
    (numbers, strings, booleans, None, lists of strings). Its meaning is checked by
    ``ExplorationTrainingConfig.from_dict`` when a user rebuilds the config from it."""
    raw = ck.state.get("training")
    if raw is None:
        return None
    data = ck.mapping("training")
    if len(data) > _MAX_TRAINING_KEYS:
        ck.fail(f"training holds {len(data)} settings (at most {_MAX_TRAINING_KEYS})")
    out: dict[str, Any] = {}
    for k, v in data.items():
        ok = isinstance(k, str) and (
            v is None or isinstance(v, (bool, str))
            or (isinstance(v, (int, float)) and math.isfinite(v))
            or (isinstance(v, (list, tuple)) and len(v) <= _MAX_TRAINING_KEYS and all(isinstance(x, str) for x in v)))
        if not ok:
            ck.fail(f"training.{str(k)[:40]} must be a number, a string, a boolean or a list of strings")
        out[k] = list(v) if isinstance(v, (list, tuple)) else v
    return out


class LearnedPolicy:
    """A residual MLP policy over candidate viewpoints (see the module docs).

    Parameters
    ----------
    hidden : int
        Width of the two hidden layers.
    n_candidates : int
        Candidates scored per step (the best by the greedy rule).
    beta : float
        Waypoint weight of the greedy prior.
    value : {"gain", "frontier"}
        What the greedy prior divides by the cost (see :class:`UtilityGreedy`; saved with the policy).
    temperature : float
        Softmax temperature of the greedy log-score when sampling during training.
    device : str, optional
        Torch device (default: CUDA when available).
    seed : int, numpy Generator or None
        Seeds the initial weights. The default is 0, not None: the last layer starts at zero, so
        an untrained policy acts as utility-greedy whatever the seed, and a fixed default keeps
        the hidden layers (what training starts from) reproducible;
        :func:`~planning.exploration.training.train_policy` derives it from its own ``seed``.

    Attributes
    ----------
    training : bool
        While True (set by the trainer), :meth:`choose` samples from the policy with
        ``sample_generator`` and appends a :class:`Decision` to ``trace`` for every choice.
    trained_episodes : int
        Training episodes so far (saved with the weights).
    training_config : dict or None
        The settings of the last :func:`~planning.exploration.training.train_policy` run
        (``ExplorationTrainingConfig.to_dict()``; saved with the weights; None before training).

    Examples
    --------
    >>> p = LearnedPolicy(hidden=8, seed=0)
    >>> p.params()["local"]
    'learned'
    """

    name = "learned"

    def __init__(self, *, hidden: int = 32, n_candidates: int = 16, beta: float = 0.3, value: str = "gain",
                 temperature: float = 0.25, device: Optional[str] = None, seed: Any = 0) -> None:
        import torch

        where = "LearnedPolicy()"
        self.hidden = check_int(hidden, "hidden", where, lower=1)
        self.n_candidates = check_int(n_candidates, "n_candidates", where, lower=1)
        self.beta = check_real(beta, "beta", where, lower=0.0)
        self.value = check_choice(value, "value", where, VALUES)
        self.temperature = check_real(temperature, "temperature", where, lower=0.0, lower_strict=True)
        self.device = _device(device)
        s = resolve_seed(seed, where=where)
        self.seed = s.root
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(s.int_seed("torch-init", bits=63))
            self.net = _mlp(self.hidden)
        self.net.to(self.device)
        self.training = False
        self.sample_generator = None
        self.last_waypoint: Optional[int] = None
        self.trace: list[Decision] = []
        self.trained_episodes = 0
        self.training_config: Optional[dict[str, Any]] = None
        self._np_cache: Optional[list] = None

    # -- config / persistence ------------------------------------------------------------
    def params(self) -> dict[str, Any]:
        return {"local": self.name, "hidden": self.hidden, "n_candidates": self.n_candidates, "beta": self.beta,
                "value": self.value, "temperature": self.temperature, "trained_episodes": self.trained_episodes}

    def config(self) -> dict[str, Any]:
        return {"hidden": self.hidden, "n_candidates": self.n_candidates, "beta": self.beta, "value": self.value,
                "temperature": self.temperature, "seed": self.seed}

    def state_dict(self) -> dict[str, Any]:
        """``{"config": config(), "trained_episodes": int, "training": training_config,
        "state_dict": the network's tensors on the CPU}`` (what :meth:`save` writes)."""
        return {"config": self.config(), "trained_episodes": self.trained_episodes,
                "training": None if self.training_config is None else dict(self.training_config),
                "state_dict": {k: v.detach().cpu() for k, v in self.net.state_dict().items()}}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Load the weights (``state["state_dict"]``, same architecture) and ``trained_episodes`` of a
        :meth:`state_dict`; the settings in ``state["config"]`` are not changed here (see :meth:`load`)."""
        import torch

        self.net.load_state_dict({k: torch.as_tensor(v, dtype=torch.float32) for k, v in state["state_dict"].items()})
        self.net.to(self.device)
        self.trained_episodes = int(state.get("trained_episodes", 0))
        training = state.get("training")
        self.training_config = None if training is None else dict(training)
        self.weights_changed()

    def to(self, device: Optional[str]) -> "LearnedPolicy":
        """Move the network to ``device`` (None: CUDA when available); returns the policy."""
        self.device = _device(device)
        self.net.to(self.device)
        return self

    def weights_changed(self) -> None:
        """Call after changing the network's weights in place (an optimiser step): acting uses a
        float64 numpy copy of them, rebuilt on the next :meth:`choose`."""
        self._np_cache = None

    def save(self, path: Any) -> Path:
        """Write :meth:`state_dict` (atomically) as a versioned, SHA-256-checksummed
        :mod:`engine.checkpoint` file (kind ``"planning.exploration.LearnedPolicy"``, version 3)."""
        return checkpoint.write(path, self.state_dict(), kind=_KIND, version=_VERSION)

    @classmethod
    def load(cls, path: Any, *, device: Optional[str] = None, max_parameters: Optional[int] = None,
             max_bytes: Optional[int] = None) -> "LearnedPolicy":
        """Read a policy written by :meth:`save`; the file is treated as untrusted input.

        The container is checked by :func:`engine.checkpoint.read` (checksum, format, kind,
        version; files of the earlier plain ``torch.save`` format are refused), then the exact key
        sets, every option's type and range, and the weights' keys, shapes, dtypes and finite
        values. ``max_parameters`` (default :data:`engine.checkpoint.MAX_PARAMETERS`, 10 million)
        bounds the network the declared ``hidden`` width implies, checked before it is built;
        ``max_bytes`` (default :data:`engine.checkpoint.MAX_BYTES`, 1 GiB) the file size. Every
        failure is an :class:`~engine.errors.InvalidInputError` naming the file.
        """
        where = "LearnedPolicy.load()"
        if device is not None and not isinstance(device, str):
            raise InvalidInputError(f"{where}: device must be a string or None, got {device!r}")
        max_parameters = check_int(checkpoint.MAX_PARAMETERS if max_parameters is None else max_parameters,
                                   "max_parameters", where, lower=1)
        max_bytes = check_int(checkpoint.MAX_BYTES if max_bytes is None else max_bytes, "max_bytes", where, lower=1)
        ck = checkpoint.read(path, kind=_KIND, versions=(2, _VERSION), where=where, max_bytes=max_bytes)
        ck.mapping((), keys=("config", "trained_episodes", "state_dict") + (("training",) if ck.version >= 3 else ()))
        training = _check_training(ck) if ck.version >= 3 else None
        cfg = dict(ck.mapping("config", keys=("hidden", "n_candidates", "beta", "value", "temperature", "seed")))
        hidden = ck.integer("config.hidden", lower=1, upper=checkpoint.MAX_OPTION)
        ck.integer("config.n_candidates", lower=1, upper=checkpoint.MAX_OPTION)
        ck.integer("config.seed", lower=0, upper=(1 << 128) - 1)
        ck.string("config.value", VALUES)
        ck.real("config.beta")
        ck.real("config.temperature")
        episodes = ck.integer("trained_episodes", lower=0, upper=1 << 62)
        n_par = (2 * N_FEATURES + 1) * hidden + (hidden + 1) * hidden + hidden + 1
        checkpoint.check_limit(n_par, max_parameters, "a network with a number of parameters", context=ck.context)
        try:
            pol = cls(**cfg, device=device)
        except InvalidInputError as err:
            ck.fail(f"config: {err}")
        except (RuntimeError, AssertionError, ValueError) as err:  # torch refuses the device
            raise InvalidInputError(f"{where}: cannot use device {device!r} ({err})") from err
        ck.load_module("state_dict", pol.net)  # checks keys, shapes, dtypes and values, then loads
        pol.trained_episodes = episodes
        pol.training_config = training
        pol.weights_changed()
        return pol

    @classmethod
    def pretrained(cls) -> "LearnedPolicy":
        """The policy shipped with the package (``data/learned_policy.json``) if there is one, else an untrained one.

        No weights ship today (training did not beat utility-greedy, see the bench), so the
        ``"fare_learned"`` planner name gives the untrained residual policy, which acts exactly
        like FARE's utility-greedy local planner; pass a trained policy with
        ``FARE(local=LearnedPolicy.load(path))``.
        """
        path = Path(__file__).with_name("data") / "learned_policy.json"
        if not path.is_file():
            return cls()
        data = json.loads(path.read_text())
        pol = cls(**{"value": "frontier", **data["config"]})
        pol.load_state_dict(data)
        return pol

    def to_json_dict(self) -> dict[str, Any]:
        return {"config": self.config(), "trained_episodes": self.trained_episodes,
                "state_dict": {k: v.detach().cpu().tolist() for k, v in self.net.state_dict().items()}}

    # -- acting --------------------------------------------------------------------------
    def reset(self, state: Any, seed: Any) -> None:
        self.last_waypoint = None

    def features(self, state: Any, cand: np.ndarray, waypoint: Optional[int]) -> tuple[np.ndarray, np.ndarray]:
        """``(features (n, 2F), log greedy score (n,))`` for candidate nodes."""
        g = state.graph
        R = state.sensor_range
        scores, dw = greedy_scores(state, cand, waypoint, self.beta, self.value)
        r0, c0 = state.position
        area = math.pi * R * R / 4.0
        if waypoint is not None:
            dwr = state.dist_from(int(waypoint))[state.robot]
            dwr = dwr if np.isfinite(dwr) else 1e6
        else:
            dwr = 0.0
        f = np.zeros((len(cand), N_FEATURES))
        f[:, 0] = (g.rows[cand] - r0) / R
        f[:, 1] = (g.cols[cand] - c0) / R
        f[:, 2] = g.utility[cand] / area
        f[:, 3] = (g.visits[cand] > 0).astype(np.float64)
        f[:, 4] = state.dist[cand] / R
        f[:, 5] = np.minimum(dw, 1e3 * R) / R if waypoint is not None else 0.0
        f[:, 6] = np.clip((dwr - dw) / R, -10, 10) if waypoint is not None else 0.0
        f[:, 7] = 1.0 if waypoint is not None else 0.0
        logs = np.log(np.maximum(scores, 1e-12))
        logs = logs - logs.max()
        ctx = np.broadcast_to(f.mean(axis=0), f.shape)
        return np.concatenate([f, ctx], axis=1), logs

    def choose(self, state: Any, waypoint: Optional[int]) -> Optional[int]:
        import torch

        self.last_waypoint = waypoint
        cand = state.candidates()
        if not len(cand):
            return waypoint if waypoint is not None and waypoint != state.robot else None
        scores, _ = greedy_scores(state, cand, waypoint, self.beta, self.value)
        order = np.argsort(-scores, kind="stable")[: self.n_candidates]
        cand = cand[order]
        feats, logs = self.features(state, cand, waypoint)
        if self.training:
            x = torch.as_tensor(feats, dtype=torch.float32, device=self.device)
            prior = torch.as_tensor(logs / self.temperature, dtype=torch.float32, device=self.device)
            logits = self.net(x).squeeze(-1) + prior
            dist = torch.distributions.Categorical(logits=logits)
            idx = torch.multinomial(dist.probs.detach().cpu(), 1, generator=self.sample_generator).item()
            before = state.dist_from(int(waypoint))[state.robot] if waypoint is not None else math.nan
            self.trace.append(Decision(dist.log_prob(torch.tensor(idx, device=self.device)), dist.entropy(),
                                       waypoint, float(before)))
            return int(cand[idx])
        logits = self._numpy_forward(feats) + logs / self.temperature
        return int(cand[int(np.argmax(logits))])

    def _numpy_forward(self, feats: np.ndarray) -> np.ndarray:
        """The MLP in float64 numpy (acting needs no torch threads; tiny matrices are faster here)."""
        if self._np_cache is None:
            layers = [m for m in self.net if hasattr(m, "weight")]
            self._np_cache = [(m.weight.detach().cpu().double().numpy(), m.bias.detach().cpu().double().numpy())
                              for m in layers]
        h = feats
        for i, (w, b) in enumerate(self._np_cache):
            h = h @ w.T + b
            if i < len(self._np_cache) - 1:
                h = np.tanh(h)
        return h[:, 0]
