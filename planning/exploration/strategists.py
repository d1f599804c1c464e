"""Slow planners ("strategists"): choose the order in which to visit communities.

A strategist receives a text description of the partially known environment and the pruned
:class:`~planning.exploration.topology.TopologicalGraph` (which serialises itself as JSON with
``to_json()`` and as a compact prompt with ``to_prompt()``) and returns an ordered list of
community ids. :func:`plan_waypoints` validates the answer (a list of integers, ids that exist,
no repeats, every id reachable from the robot's community on the pruned graph); an invalid answer
or an exception falls back to the default strategist (``route``) and the fallback is recorded.

Built-in strategists:

* :class:`RouteStrategist`: a prize-collecting open route over the representatives of the
  communities holding frontiers (OR-Tools routing; a community may be skipped at a penalty of
  ``prize_weight`` x its utility), starting at the robot.
* :class:`GreedyStrategist`: repeatedly the community with the most utility per distance.
* :class:`LLMStrategist`: wraps any ``prompt -> text`` callable (your model); the engine ships no
  model and downloads nothing.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable, Optional, Protocol, Sequence, runtime_checkable

import numpy as np

from engine.errors import InvalidInputError
from engine.validation import check_int, check_real

__all__ = ["Strategist", "RouteStrategist", "GreedyStrategist", "LLMStrategist", "StrategistError",
           "validate_sequence", "plan_waypoints", "make_strategist", "STRATEGISTS"]

STRATEGISTS = ("route", "greedy")


@runtime_checkable
class Strategist(Protocol):
    """Anything with a ``name`` and ``plan(description, graph) -> sequence of community ids``."""

    name: str

    def plan(self, description: str, graph: Any) -> Sequence[int]:
        ...


class StrategistError(ValueError):
    """A strategist's answer failed validation (internal; turned into a recorded fallback)."""


def validate_sequence(seq: Any, graph: Any) -> list[int]:
    """Check a strategist's answer against the pruned graph; return it as a list of ints.

    Raises :class:`StrategistError` naming the problem.
    """
    if isinstance(seq, (str, bytes)) or not isinstance(seq, (list, tuple, np.ndarray)):
        raise StrategistError(f"expected a list of community ids, got {type(seq).__name__}")
    out: list[int] = []
    for v in seq:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
            raise StrategistError(f"community ids must be integers, got {v!r}")
        out.append(int(v))
    if not out and graph.frontier_communities():
        raise StrategistError("empty sequence while communities with frontiers remain")
    unknown = [v for v in out if v not in graph.communities]
    if unknown:
        raise StrategistError(f"unknown community id {unknown[0]} (known: {sorted(graph.communities)})")
    if len(set(out)) != len(out):
        raise StrategistError("repeated community ids")
    # connectivity: every id reachable from the robot's community on the pruned graph
    seen = {graph.robot_community}
    stack = [graph.robot_community]
    while stack:
        a = stack.pop()
        for b in graph.neighbors(a):
            if b not in seen:
                seen.add(b)
                stack.append(b)
    cut = [v for v in out if v not in seen]
    if cut:
        raise StrategistError(f"community {cut[0]} is not connected to the robot's community")
    return out


class RouteStrategist:
    """Prize-collecting open route over frontier communities with OR-Tools routing.

    Parameters
    ----------
    prize_weight : float
        Penalty, in cells of travel, for skipping one unit of utility (large = visit all).
    time_limit : float
        Safety limit in seconds for the routing search (the search itself is a deterministic
        greedy descent from the cheapest-arc start and normally stops well before).

    Examples
    --------
    >>> RouteStrategist().name
    'route'
    """

    name = "route"

    def __init__(self, *, prize_weight: float = 50.0, time_limit: float = 2.0) -> None:
        self.prize_weight = check_real(prize_weight, "prize_weight", "RouteStrategist()", lower=0.0)
        self.time_limit = check_real(time_limit, "time_limit", "RouteStrategist()", lower=0.0, lower_strict=True)

    def params(self) -> dict[str, Any]:
        return {"strategist": self.name, "prize_weight": self.prize_weight, "route_time_limit": self.time_limit}

    def plan(self, description: str, graph: Any) -> list[int]:
        targets = graph.frontier_communities()
        if not targets:
            return []
        if len(targets) == 1:
            return targets
        from ortools.constraint_solver import pywrapcp, routing_enums_pb2

        n = len(targets)
        # node 0: robot (start), 1..n: targets, n+1: free end
        scale = 10.0
        big = 10 ** 9

        def cost(i: int, j: int) -> int:
            if j == n + 1 or i == j:
                return 0
            if j == 0:
                return big
            if i == 0:
                return int(round(scale * graph.robot_distances[targets[j - 1]]))
            if i == n + 1:
                return big
            return int(round(scale * graph.distances[(targets[i - 1], targets[j - 1])]))

        matrix = [[cost(i, j) for j in range(n + 2)] for i in range(n + 2)]
        manager = pywrapcp.RoutingIndexManager(n + 2, 1, [0], [n + 1])
        routing = pywrapcp.RoutingModel(manager)

        def cb(a: int, b: int) -> int:
            return matrix[manager.IndexToNode(a)][manager.IndexToNode(b)]

        transit = routing.RegisterTransitCallback(cb)
        routing.SetArcCostEvaluatorOfAllVehicles(transit)
        for k, c in enumerate(targets, start=1):
            pen = int(round(scale * self.prize_weight * graph.communities[c].utility))
            routing.AddDisjunction([manager.NodeToIndex(k)], max(pen, 1))
        params = pywrapcp.DefaultRoutingSearchParameters()
        params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
        params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GREEDY_DESCENT
        params.time_limit.FromMilliseconds(int(1000 * self.time_limit))
        sol = routing.SolveWithParameters(params)
        if sol is None:
            raise StrategistError("OR-Tools routing found no route")
        out = []
        idx = routing.Start(0)
        for _ in range(n + 3):
            idx = sol.Value(routing.NextVar(idx))
            if routing.IsEnd(idx):
                break
            out.append(targets[manager.IndexToNode(idx) - 1])
        if not out:  # every target dropped: take the best one so the robot keeps going
            out = [max(targets, key=lambda c: graph.communities[c].utility / (1.0 + graph.robot_distances[c]))]
        return out


class GreedyStrategist:
    """Visit next the community with the highest utility per distance from the current one.

    Examples
    --------
    >>> GreedyStrategist().name
    'greedy'
    """

    name = "greedy"

    def params(self) -> dict[str, Any]:
        return {"strategist": self.name}

    def plan(self, description: str, graph: Any) -> list[int]:
        left = set(graph.frontier_communities())
        out: list[int] = []
        cur: Optional[int] = None
        for _ in range(len(left)):
            def score(c: int) -> float:
                d = graph.robot_distances[c] if cur is None else graph.distances[(cur, c)]
                return graph.communities[c].utility / (1.0 + d)
            nxt = max(sorted(left), key=score)
            out.append(nxt)
            left.discard(nxt)
            cur = nxt
        return out


_INSTRUCTIONS = (
    "You plan the global route of an exploring robot. Visit the communities that hold frontier cells "
    "(utility u > 0) so that the robot finishes exploring with the least travel. Answer with a JSON list "
    "of community ids in visiting order, e.g. [3, 1, 4], and nothing else.")


class LLMStrategist:
    """Adapter for a language model (or any ``prompt -> text`` callable).

    The prompt holds the environment description, the compact graph (``to_prompt``), the graph
    as JSON when ``include_json`` and the instructions. The first JSON list of integers in the
    reply is the answer; anything else fails validation and falls back (recorded).

    Examples
    --------
    >>> s = LLMStrategist(lambda prompt: "[0]")
    >>> s.name
    'llm'
    """

    def __init__(self, model: Callable[[str], str], *, name: str = "llm", include_json: bool = True,
                 max_prompt_chars: int = 20_000) -> None:
        if not callable(model):
            raise InvalidInputError(f"LLMStrategist(): model must be a callable prompt -> text, got {model!r}")
        self.model = model
        self.name = str(name)
        self.include_json = bool(include_json)
        self.max_prompt_chars = check_int(max_prompt_chars, "max_prompt_chars", "LLMStrategist()", lower=100)
        self.last_prompt = ""
        self.last_reply = ""

    def params(self) -> dict[str, Any]:
        return {"strategist": self.name, "include_json": self.include_json}

    def prompt(self, description: str, graph: Any) -> str:
        parts = [description, "", graph.to_prompt()]
        if self.include_json:
            parts += ["", "graph as JSON:", graph.to_json()]
        parts += ["", _INSTRUCTIONS]
        text = "\n".join(parts)
        if len(text) > self.max_prompt_chars:  # keep the instructions, cut the middle
            head = self.max_prompt_chars - len(_INSTRUCTIONS) - 20
            text = text[:head] + "\n...\n" + _INSTRUCTIONS
        return text

    def plan(self, description: str, graph: Any) -> list[int]:
        self.last_prompt = self.prompt(description, graph)
        reply = self.model(self.last_prompt)
        self.last_reply = reply if isinstance(reply, str) else repr(reply)
        if not isinstance(reply, str):
            raise StrategistError(f"model returned {type(reply).__name__}, not text")
        match = re.search(r"\[[^\[\]]*\]", reply)
        if match is None:
            raise StrategistError(f"no JSON list in the reply {reply[:80]!r}")
        try:
            value = json.loads(match.group(0))
        except json.JSONDecodeError as err:
            raise StrategistError(f"unparsable list {match.group(0)[:80]!r}: {err}") from err
        return value


def make_strategist(spec: Any, where: str = "explore()") -> Any:
    """A strategist from a name (``"route"``, ``"greedy"``), an object with ``plan``, or a ``prompt -> text`` callable."""
    if spec is None or spec == "route":
        return RouteStrategist()
    if spec == "greedy":
        return GreedyStrategist()
    if isinstance(spec, str):
        raise InvalidInputError(f"{where}: unknown strategist {spec!r}; choose from {list(STRATEGISTS)}, a "
                                "Strategist object or a prompt -> text callable")
    if hasattr(spec, "plan") and callable(spec.plan):
        return spec
    if callable(spec):
        return LLMStrategist(spec)
    raise InvalidInputError(f"{where}: strategist must be a name, a Strategist or a callable, got {spec!r}")


def plan_waypoints(strategist: Any, description: str, graph: Any, *, fallback: Any = None
                   ) -> tuple[list[int], Optional[str]]:
    """Run ``strategist``; on an exception or an invalid answer run ``fallback`` (default: route).

    Returns ``(sequence, reason)`` where ``reason`` is None when the strategist's own answer was
    used and otherwise says why it was replaced.
    """
    try:
        return validate_sequence(strategist.plan(description, graph), graph), None
    except Exception as err:  # noqa: BLE001 - any failure of a user strategist is a recorded fallback
        reason = f"{getattr(strategist, 'name', type(strategist).__name__)}: {type(err).__name__}: {err}"
    fb = fallback if fallback is not None else RouteStrategist()
    try:
        return validate_sequence(fb.plan(description, graph), graph), reason
    except Exception as err:  # noqa: BLE001 - last resort: greedy never fails on a valid graph
        reason += f"; fallback {getattr(fb, 'name', '?')}: {type(err).__name__}: {err}"
        return validate_sequence(GreedyStrategist().plan(description, graph), graph), reason
