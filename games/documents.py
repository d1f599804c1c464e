"""Games given as files: what ``engine-bench solve`` / ``serve`` do with them, and ``run --instances``.

Two input kinds, registered under ``engine_bench.kinds`` in ``pyproject.toml``:

* ``game`` -- a Gambit strategic-form ``.nfg`` file (text starting with ``NFG``) or a
  ``gameplan/game`` JSON document (:meth:`games.NormalFormGame.to_dict`). Methods:

  - ``nash`` (default): all Nash equilibria with their certificates
    (:func:`games.nash.solve` with ``all_equilibria=True``: exact vertex enumeration for two
    players, with the maximal Nash subsets and components; pure equilibria for more);
  - ``qre``: the logit QRE at ``--lam`` (:func:`games.qre.logit_solve`);
  - ``branch``: the principal QRE branch traced to a Nash equilibrium (:func:`games.qre.logit_branch`);
  - ``stackelberg``: the strong Stackelberg equilibrium with ``--leader`` committing
    (:func:`games.stackelberg.solve`);
  - ``lemke_howson``, ``support_enumeration``, ``vertex_enumeration``, ``zero_sum_lp``, ``pure``:
    one Nash method by name.

* ``gtalign`` -- GTAlign payoff matrices as JSON Lines (one ``{"DQ_DA": {"LLM": .., "user": ..},
  ...}`` or ``{"id": .., "matrix": {...}}`` per line, :func:`games.gtalign.score_jsonl`); the
  method is the selection rule (``product`` by default). The answer is a :class:`GTAlignBatch`.

* ``tree`` -- a Gambit ``.efg`` game tree or a ``gameplan/tree`` JSON document
  (:meth:`games.efg.ExtensiveFormGame.to_dict`). Methods: ``auto`` (:func:`games.efg.solve`),
  ``subgame_perfect`` (backward induction / subgame decomposition, with the per-subgame regrets),
  ``sequence_form_lp``, ``sequence_form_lcp``, ``sequence_form_milp``, ``stackelberg`` (``--leader``).

``engine-bench run games --instances 'DIR/*.nfg'`` runs the games suite's methods (``qre`` at
each ``--lams``, ``nash``, ``stackelberg``) on the files, with the suite's metrics; ``.efg``
files and ``gameplan/tree`` documents get the tree methods (``spe``, ``nash``, ``stackelberg``,
``qre``; see :func:`games.suites.tree_cases`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from engine.errors import InvalidInputError
from engine.io import loads_json
from engine.result import SolveResult
from engine.solve import Kind, KindOption, Solved, SolveRequest, Source, call_with, with_instances
from engine.status import Status
from engine.suites import Case
from games import efg, nash, qre, stackelberg
from games.efg import ExtensiveFormGame
from games.efg.lcp import sequence_form_lcp
from games.efg_io import read_efg
from games.gtalign import CELLS, score_jsonl
from games.nfg import read_nfg
from games.normal_form import NormalFormGame
from games.suites import METHODS, _logit_residual, tree_cases
from games.suites import TREE_METHODS as SUITE_TREE_METHODS
from games.suites import games_suite as generated

__all__ = ["game_kind", "gtalign_kind", "tree_kind", "GTAlignBatch", "load_game", "load_tree", "GAME_METHODS",
           "TREE_METHODS", "games_suite"]

_NASH_METHODS = ("lemke_howson", "support_enumeration", "vertex_enumeration", "zero_sum_lp", "pure")
#: Methods of the ``game`` kind; the first is the default.
GAME_METHODS = ("nash", "qre", "branch", "stackelberg") + _NASH_METHODS
_MAX_ROWS = 20  # equilibria shown in the table (the JSON document has all)


# ---------------------------------------------------------------------------- game
def _sniff_game(src: Source) -> bool:
    return src.head.startswith(b"NFG") or src.schema == "gameplan/game"


def load_game(src: Source) -> Any:
    """The :class:`games.NormalFormGame` of an ``.nfg`` text or a ``gameplan/game`` document."""
    if src.schema == "gameplan/game":
        return NormalFormGame.from_dict(src.document)
    return read_nfg(src.data)


def _parse_lam(text: str) -> Any:
    vals = [float(v) for v in str(text).split(",") if v.strip()]
    if not vals or not all(math.isfinite(v) and v >= 0 for v in vals):
        raise ValueError("lambda must be finite numbers >= 0 (one, or one per player)")
    return vals[0] if len(vals) == 1 else vals


def _parse_leader(text: str) -> int:
    v = int(str(text).strip())
    if v not in (0, 1):
        raise ValueError("the leader is player 0 or 1")
    return v


def _vec(v: Any, rational: Optional[Sequence[str]] = None) -> str:
    if rational is not None:
        return " ".join(str(r) for r in rational)
    return " ".join(f"{float(x):.6g}" for x in np.asarray(v, dtype=float).ravel())


def _nash_rows(game: Any, res: Any) -> list[dict[str, Any]]:
    rows = []
    rational = getattr(res, "rational", ())
    for k, eq in enumerate(res.equilibria[:_MAX_ROWS]):
        row: dict[str, Any] = {"equilibrium": k}
        for p, vec in enumerate(eq):
            rat = rational[k][p] if k < len(rational) else None
            row[game.players[p] if p < len(game.players) else f"player {p}"] = _vec(vec, rat)
        row["payoffs"] = _vec(res.payoffs[k])
        row["max_regret"] = float(res.max_regrets[k])
        rows.append(row)
    if len(res.equilibria) > _MAX_ROWS:
        rows.append({"equilibrium": f"... {len(res.equilibria) - _MAX_ROWS} more in the JSON document"})
    return rows


def _solve_game(src: Source, req: SolveRequest) -> Solved:
    game = load_game(src)
    method = req.method
    opts = req.options
    if method != "stackelberg" and opts.get("leader") is not None:
        raise InvalidInputError(f"{req.where}: --leader applies to --method stackelberg only")
    if method not in ("qre",) and opts.get("lam") is not None:
        raise InvalidInputError(f"{req.where}: --lam applies to --method qre only")
    if method == "nash" or method in _NASH_METHODS:
        two = game.n_players == 2
        kwargs: dict[str, Any] = {}
        if method == "nash":
            kwargs["all_equilibria"] = True
        if req.time_limit is not None and (method == "vertex_enumeration" or (method == "nash" and two)):
            kwargs["time_limit"] = req.remaining()
        res = nash.solve(game, "auto" if method == "nash" else method, **kwargs)
        return Solved(res, _nash_rows(game, res), title=f"{res.n_equilibria} equilibria")
    if method == "qre":
        lam = 1.0 if opts.get("lam") is None else opts["lam"]
        res = call_with(qre.logit_solve, game, lam, time_limit=req.remaining(), seed=req.seed, threads=req.threads)
        rows = [{"player": game.players[p], "profile": _vec(v)} for p, v in enumerate(res.profile)]
        rows.append({"player": "residual", "profile": f"{float(res.residual):.3g}"})
        return Solved(res, rows, title=f"logit QRE at lambda = {lam}")
    if method == "branch":
        res = call_with(qre.logit_branch, game, time_limit=req.remaining(), seed=req.seed, threads=req.threads)
        rows = [{"player": game.players[p], "profile": _vec(v)} for p, v in enumerate(res.profile)]
        rows.append({"player": "max_regret", "profile": f"{float(res.max_regret):.3g}"})
        return Solved(res, rows, title=f"end of the principal QRE branch (lambda = {float(res.lam):.4g})")
    leader = 0 if opts.get("leader") is None else int(opts["leader"])
    sse = stackelberg.solve(game, leader=leader)
    rows = [{"field": "leader", "value": game.players[leader]},
            {"field": "leader_strategy", "value": _vec(sse.leader_strategy)},
            {"field": "follower_action", "value": int(sse.follower_action)},
            {"field": "leader_value", "value": float(sse.leader_value)},
            {"field": "follower_value", "value": float(sse.follower_value)}]
    return Solved(sse, rows, title="strong Stackelberg equilibrium")


# ---------------------------------------------------------------------------- tree (.efg)
#: Methods of the ``tree`` kind (Gambit ``.efg`` game trees); the first is the default.
TREE_METHODS = ("auto", "subgame_perfect", "sequence_form_lp", "sequence_form_lcp", "sequence_form_milp",
                "stackelberg")


def _sniff_tree(src: Source) -> bool:
    return src.head.startswith(b"EFG") or src.schema == "gameplan/tree"


def load_tree(src: Source) -> Any:
    """The :class:`games.efg.ExtensiveFormGame` of an ``.efg`` text or a ``gameplan/tree`` document."""
    if src.schema == "gameplan/tree":
        return ExtensiveFormGame.from_dict(src.document)
    return read_efg(src.data)


def _solve_tree(src: Source, req: SolveRequest) -> Solved:
    game = load_tree(src)
    method, opts = req.method, req.options
    if method != "stackelberg" and opts.get("leader") is not None:
        raise InvalidInputError(f"{req.where}: --leader applies to --method stackelberg only")
    tl: dict[str, Any] = {} if req.time_limit is None else {"time_limit": req.remaining()}
    if method == "auto":
        res = efg.solve(game)
    elif method == "subgame_perfect":
        res = efg.subgame_perfect(game, **tl)
    elif method == "sequence_form_lp":
        res = efg.sequence_form_lp(game, **tl)
    elif method == "sequence_form_lcp":
        res = sequence_form_lcp(game, seed=req.seed, **tl)
    elif method == "sequence_form_milp":
        res = efg.sequence_form_milp(game, **tl)
    else:
        res = efg.stackelberg(game, 0 if opts.get("leader") is None else int(opts["leader"]), **tl)
    rows = [{"player": game.players[p] if p < len(game.players) else f"player {p}", "behaviour": _vec(b),
             "payoff": float(np.asarray(res.payoffs)[p]) if res.payoffs is not None else math.nan}
            for p, b in enumerate(res.behavior)]
    rows.append({"player": "max_regret", "behaviour": f"{float(res.max_regret):.3g}", "payoff": math.nan})
    if res.subgame_regrets is not None:
        rows.append({"player": "subgame_max_regret", "behaviour": f"{float(res.subgame_max_regret):.3g} "
                     f"({len(res.subgame_regrets)} subgames)", "payoff": math.nan})
    return Solved(res, rows, title=f"game tree: {res.method}")


tree_kind = Kind(
    name="tree",
    accepts="a Gambit .efg game tree (text starting with EFG) or a gameplan/tree JSON document",
    sniff=_sniff_tree,
    solve=_solve_tree,
    methods=TREE_METHODS,
    options=(KindOption("leader", _parse_leader, None, "the committing player of --method stackelberg (0 or 1)"),),
    schema="gameplan/tree",
)


# ---------------------------------------------------------------------------- run games --instances
def _instance_cases(sources: Sequence[Source], *, sizes: Any = None, players: Any = None,
                    lams: Sequence[float] = (1.0, 5.0, 10.0), methods: Optional[Sequence[str]] = None) -> list:
    """The games suite's methods on each file (``--sizes`` and ``--players`` do not apply)."""
    trees = [(src.name, load_tree(src)) for src in sources if _sniff_tree(src)]
    games = [(src.name, load_game(src)) for src in sources if not _sniff_tree(src)]
    if "spe" in (methods or ()) and games:
        raise InvalidInputError(f"engine-bench run games: spe applies to game trees; {games[0][0]} is a "
                                "strategic-form game")
    cases = [c for name, tree in trees
             for c in tree_cases(name, tree, methods=methods if methods is not None else SUITE_TREE_METHODS,
                                 explicit=methods is not None, lams=lams)]
    chosen = [m for m in (methods if methods is not None else METHODS) if m != "spe"]
    for name, game in games:
        base = {"instance": name, "players": game.n_players, "shape": list(game.shape)}
        if "qre" in chosen:
            for lam in lams:
                cases.append(Case(f"qre/{name}/lam={lam:g}", {**base, "method": "qre", "lam": lam},
                                  _run_qre(game, lam)))
        if "nash" in chosen:
            cases.append(Case(f"nash/{name}", {**base, "method": "nash"}, _run_nash(game)))
        if "stackelberg" in chosen:
            if game.n_players != 2:
                if methods is not None:
                    raise InvalidInputError(f"engine-bench run games: stackelberg needs two-player games; {name} "
                                            f"has {game.n_players} players")
                continue
            cases.append(Case(f"stackelberg/{name}", {**base, "method": "stackelberg"}, _run_stackelberg(game)))
    return cases


def _run_qre(game: Any, lam: float) -> Any:
    def run(ctx: Any) -> Mapping[str, Any]:
        t0 = time.perf_counter()
        res = qre.logit_solve(game, lam, **ctx.options_for(qre.logit_solve))
        return {"status": res.status.value, "runtime": time.perf_counter() - t0, "residual": float(res.residual),
                "residual_check": _logit_residual(game, res.profile, lam)}

    return run


def _run_nash(game: Any) -> Any:
    def run(ctx: Any) -> Mapping[str, Any]:
        t0 = time.perf_counter()
        res = nash.solve(game, method="auto")
        regrets = [float(r) for r in res.max_regrets]
        checks = [game.max_regret(list(eq)) for eq in res.equilibria]
        return {"status": res.status.value, "runtime": time.perf_counter() - t0, "method": res.method,
                "n_equilibria": len(res.equilibria), "max_regret": max(regrets) if regrets else math.nan,
                "max_regret_check": max(checks) if checks else math.nan}

    return run


def _run_stackelberg(game: Any) -> Any:
    def run(ctx: Any) -> Mapping[str, Any]:
        t0 = time.perf_counter()
        res = stackelberg.solve(game, leader=0)
        follower = np.asarray(res.leader_strategy, dtype=float) @ game.payoffs[1]
        return {"status": res.status.value, "runtime": time.perf_counter() - t0,
                "leader_value": float(res.leader_value), "follower_action": int(res.follower_action),
                "follower_regret": float(follower.max() - follower[int(res.follower_action)])}

    return run


game_kind = Kind(
    name="game",
    accepts="Gambit .nfg text or a gameplan/game JSON document",
    sniff=_sniff_game,
    solve=_solve_game,
    methods=GAME_METHODS,
    options=(KindOption("lam", _parse_lam, None, "QRE precision (one, or one per player: 1,2) for --method qre; "
                        "default 1"),
             KindOption("leader", _parse_leader, None, "the committing player (0 or 1) for --method stackelberg; "
                        "default 0")),
    schema="gameplan/game",
    instance_cases=_instance_cases,
)


# ---------------------------------------------------------------------------- gtalign
@dataclass(frozen=True, kw_only=True)
class GTAlignBatch(SolveResult):
    """The responses GTAlign selects for a batch of payoff matrices (JSON Lines).

    Attributes
    ----------
    records : tuple of dict
        One per input line, in order: ``{"id", "action", "cell", "score", "pareto", "llm",
        "user"}``, or ``{"id", "error"}`` for a line that failed validation.
    matrices, errors : int
        Lines scored and lines refused.
    actions : dict
        How often each action was chosen.

    ``status`` is OPTIMAL when every line was scored (each selection is an exact argmax),
    FEASIBLE when some lines were refused (their ``error`` says why), ERROR when none could be.
    """

    records: tuple = ()
    matrices: int = 0
    errors: int = 0
    actions: Mapping[str, int] = field(default_factory=dict)


def _sniff_gtalign(src: Source) -> bool:
    def looks(obj: Any) -> bool:
        return isinstance(obj, dict) and "schema" not in obj and (
            "matrix" in obj or (bool(obj) and set(obj) <= set(CELLS)))

    if not src.head.startswith(b"{"):
        return False
    doc = src.document
    if doc is not None:
        return looks(doc)
    first = src.data.lstrip().split(b"\n", 1)[0]
    if len(first) > 1_000_000:
        return False
    try:
        return looks(loads_json(first, where=src.name))
    except InvalidInputError:
        return False


def _parse_user_type(text: str) -> Any:
    t = str(text).strip()
    if t in ("DQ", "VQ"):
        return t
    p = float(t)
    if not 0.0 <= p <= 1.0:
        raise ValueError("user type is DQ, VQ or a probability P(DQ) in [0, 1]")
    return p


def _parse_weight(text: str) -> float:
    w = float(text)
    if not 0.0 <= w <= 1.0:
        raise ValueError("weight must lie in [0, 1]")
    return w


def _solve_gtalign(src: Source, req: SolveRequest) -> Solved:
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="engine-gtalign-") as tmp:
        out = Path(tmp) / "out.jsonl"
        with src.as_file(".jsonl") as inp:
            summary = score_jsonl(inp, out, rule=req.method, user_type=req.options.get("user_type"),
                                  weight=req.options.get("weight", 0.5), seed=req.seed)
        records = tuple(json.loads(line) for line in out.read_text().splitlines() if line.strip())
    n, errors = int(summary["matrices"]), int(summary["errors"])
    if errors == 0:
        status, message = Status.OPTIMAL, f"{n} matrices scored"
    elif n:
        status, message = Status.FEASIBLE, f"{n} matrices scored, {errors} lines refused (see their 'error')"
    else:
        status, message = Status.ERROR, f"no line could be scored ({errors} refused; see their 'error')"
    params = {"rule": req.method, "user_type": req.options.get("user_type"), "weight": req.options.get("weight", 0.5),
              "seed": req.seed}
    res = GTAlignBatch(status=status, message=message, x=None, nit=n, runtime=time.perf_counter() - t0,
                       method=req.method, backend="numpy", params=params, records=records, matrices=n,
                       errors=errors, actions=dict(summary["actions"]))
    rows = []
    for rec in records[:_MAX_ROWS]:
        rows.append({"id": rec.get("id"), "action": rec.get("action", ""), "cell": rec.get("cell", ""),
                     "score": rec.get("score"), "error": rec.get("error", "")})
    if len(records) > _MAX_ROWS:
        rows.append({"id": f"... {len(records) - _MAX_ROWS} more in the JSON document"})
    return Solved(res, rows, title="GTAlign selections")


gtalign_kind = Kind(
    name="gtalign",
    accepts="GTAlign payoff matrices as JSON Lines",
    sniff=_sniff_gtalign,
    solve=_solve_gtalign,
    methods=("product", "sum", "geometric", "user_first", "llm_first"),
    options=(KindOption("user_type", _parse_user_type, None, "candidates: DQ, VQ or P(DQ) (default: all six cells)"),
             KindOption("weight", _parse_weight, 0.5, "weight of the LLM in the geometric rule")),
)


def _games_suite() -> Any:
    # run --instances takes strategic-form games and game trees alike
    either = dataclasses.replace(game_kind, sniff=lambda src: _sniff_game(src) or _sniff_tree(src),
                                 accepts="Gambit .nfg or .efg files, gameplan/game or gameplan/tree documents")
    return with_instances(generated, either)


#: The ``games`` suite of ``engine-bench run`` plus ``--instances GLOB`` (its entry point).
games_suite = _games_suite()
