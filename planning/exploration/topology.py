"""The global topological graph: communities of the viewpoint graph, collapsed and pruned.

:func:`build_topology` runs community detection on the part of the viewpoint graph the robot can
reach (networkx Louvain or greedy modularity, seeded), collapses each community to a
representative node (its highest-utility viewpoint, or the one nearest its centroid when it sees
no frontier) carrying its utility (sum of member utilities), area (members x spacing^2 cells) and
centroid, and links adjacent communities with the shortest-path distance between their
representatives.

Modularity-based pruning then

1. merges adjacent communities while a merge raises the modularity ``Q`` (the change
   ``dQ = e_ab / m - K_a K_b / (2 m^2)``; Louvain's answer is usually already a local optimum),
2. removes dead ends: communities without utility with at most one neighbour (not the robot's),
3. contracts chains: a community without utility with exactly two neighbours is replaced by a
   direct link whose length is the sum of the two.

Each step keeps the community graph connected and never removes a community holding frontiers.
The result reports the modularity of the partition and the graph sizes before and after.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

import numpy as np

from engine.errors import InvalidInputError
from engine.validation import check_choice, check_int, check_real

__all__ = ["Community", "TopologicalGraph", "modularity", "detect_communities", "build_topology"]

COMMUNITY_METHODS = ("louvain", "greedy")


def modularity(edges: Any, labels: Any, weights: Any = None) -> float:
    """Newman modularity of a partition of an undirected graph.

    ``Q = sum_c [ L_c / m - (K_c / (2 m))^2 ]`` with ``L_c`` the weight inside community ``c``,
    ``K_c`` the total degree of its nodes and ``m`` the total edge weight (self-loops count once
    in ``L_c`` and twice in the degree, as in networkx).

    Parameters
    ----------
    edges : (m, 2) array of node indices
    labels : (n,) array, community label of each node
    weights : (m,) array, optional (default 1)

    Examples
    --------
    >>> modularity([[0, 1], [2, 3]], [0, 0, 1, 1])
    0.5
    """
    e = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    lab = np.asarray(labels)
    w = np.ones(len(e)) if weights is None else np.asarray(weights, dtype=np.float64)
    m = float(w.sum())
    if m <= 0:
        return 0.0
    _, lab_idx = np.unique(lab, return_inverse=True)
    k = np.zeros(lab.shape[0])
    np.add.at(k, e[:, 0], w)
    np.add.at(k, e[:, 1], w)
    K = np.bincount(lab_idx, weights=k)
    inside = lab_idx[e[:, 0]] == lab_idx[e[:, 1]]
    L = np.bincount(lab_idx[e[inside, 0]], weights=w[inside], minlength=len(K))
    return float(np.sum(L / m - (K / (2.0 * m)) ** 2))


def detect_communities(G: Any, *, method: str = "louvain", seed: int = 0, resolution: float = 1.0
                       ) -> list[frozenset]:
    """Communities of a networkx graph (unweighted), sorted by their smallest node.

    ``seed`` drives Louvain's random node order (default 0, so the same graph gives the same
    communities; the greedy method is deterministic and ignores it).

    Examples
    --------
    >>> import networkx as nx
    >>> len(detect_communities(nx.barbell_graph(5, 0), seed=0))
    2
    """
    import networkx as nx

    check_choice(method, "community method", "detect_communities()", COMMUNITY_METHODS)
    if G.number_of_edges() == 0:
        comms = [frozenset([v]) for v in G.nodes]
    elif method == "louvain":
        comms = [frozenset(c) for c in nx.community.louvain_communities(G, weight=None, resolution=resolution,
                                                                         seed=int(seed))]
    else:
        comms = [frozenset(c) for c in nx.community.greedy_modularity_communities(G, weight=None,
                                                                                   resolution=resolution)]
    return sorted(comms, key=min)


@dataclass(frozen=True)
class Community:
    """One community collapsed to a representative viewpoint."""

    id: int
    members: tuple[int, ...]
    representative: int
    representative_cell: tuple[int, int]
    centroid: tuple[float, float]
    utility: int
    area: float


@dataclass(frozen=True)
class TopologicalGraph:
    """The pruned community graph handed to a strategist.

    Attributes
    ----------
    communities : dict id -> Community
        The communities kept after pruning.
    links : dict (a, b) -> float
        Undirected links ``a < b`` with their lengths (graph distance in cells).
    distances : dict (a, b) -> float
        Shortest-path distance between every pair of kept representatives (both orders).
    robot_community : int
        Community holding the robot.
    robot_distances : dict id -> float
        Distance from the robot to each kept representative.
    modularity : float
        Modularity of the detected partition on the viewpoint graph.
    modularity_merged : float
        Modularity after the merge step of the pruning.
    sizes : dict
        ``viewpoints``, ``viewpoint_edges``, ``communities_before``, ``links_before``,
        ``communities_after``, ``links_after``.
    labels : dict node -> community id
        Community of every reachable viewpoint (after merging, before removal).
    """

    communities: Mapping[int, Community]
    links: Mapping[tuple[int, int], float]
    distances: Mapping[tuple[int, int], float]
    robot_community: int
    robot_distances: Mapping[int, float]
    modularity: float
    modularity_merged: float
    sizes: Mapping[str, int]
    labels: Mapping[int, int] = field(default_factory=dict)
    method: str = "louvain"

    def neighbors(self, a: int) -> list[int]:
        return sorted({b for (x, b) in self.links if x == a} | {x for (x, b) in self.links if b == a})

    def is_connected(self) -> bool:
        ids = list(self.communities)
        if not ids:
            return True
        seen = {ids[0]}
        stack = [ids[0]]
        while stack:
            a = stack.pop()
            for b in self.neighbors(a):
                if b not in seen:
                    seen.add(b)
                    stack.append(b)
        return len(seen) == len(ids)

    def frontier_communities(self) -> list[int]:
        return [c.id for c in self.communities.values() if c.utility > 0]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-compatible data (what a strategist sees)."""
        return {
            "robot_community": self.robot_community,
            "communities": [
                {"id": c.id, "centroid": [round(c.centroid[0], 1), round(c.centroid[1], 1)],
                 "representative": list(c.representative_cell), "utility": int(c.utility),
                 "area": float(c.area), "distance_from_robot": round(float(self.robot_distances[c.id]), 1)}
                for c in self.communities.values()],
            "links": [[a, b, round(float(d), 1)] for (a, b), d in sorted(self.links.items())],
            "modularity": self.modularity,
            "sizes": dict(self.sizes),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    def to_prompt(self) -> str:
        """A compact text form: one line per community and one for the links."""
        lines = [f"robot in community {self.robot_community}",
                 "communities (id: centroid row,col | frontier utility | area cells | distance from robot):"]
        for c in self.communities.values():
            lines.append(f"  {c.id}: {c.centroid[0]:.0f},{c.centroid[1]:.0f} | u={c.utility} | a={c.area:.0f} | "
                         f"d={self.robot_distances[c.id]:.0f}")
        links = " ".join(f"{a}-{b}:{d:.0f}" for (a, b), d in sorted(self.links.items()))
        lines.append(f"links (a-b:length): {links}")
        return "\n".join(lines)


def _communities(graph: Any, nodes: np.ndarray, edges: np.ndarray, *, method: str, seed: int, resolution: float,
                 coarsen: int) -> np.ndarray:
    """Community label of every node (-1 outside ``nodes``), labels 0..C-1 ordered by smallest node.

    With ``coarsen > 1`` the nodes are first grouped into super-nodes: the connected pieces of
    each ``coarsen x coarsen`` block of lattice cells (edges inside a block join them); detection
    runs on the super-node graph with edge counts as weights, and each node takes its
    super-node's community. Modularity is always reported on the viewpoint graph itself.
    """
    import networkx as nx

    n = graph.n
    parent = np.arange(n)
    if coarsen > 1 and len(edges):
        block = graph.spacing * coarsen
        key = (graph.rows[:n] // block) * (graph.shape[1] // block + 1) + graph.cols[:n] // block

        def find(a: int) -> int:
            root = a
            while parent[root] != root:
                root = parent[root]
            while parent[a] != root:
                parent[a], a = root, parent[a]
            return root

        same = key[edges[:, 0]] == key[edges[:, 1]]
        for a, b in edges[same].tolist():
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
        roots = np.array([find(int(v)) for v in range(n)])
    else:
        roots = parent
    G = nx.Graph()
    G.add_nodes_from(np.unique(roots[nodes]).tolist())
    if len(edges):
        ra, rb = roots[edges[:, 0]], roots[edges[:, 1]]
        cross = ra != rb
        pairs = np.stack([np.minimum(ra[cross], rb[cross]), np.maximum(ra[cross], rb[cross])], axis=1)
        if len(pairs):
            uniq, counts = np.unique(pairs, axis=0, return_counts=True)
            G.add_weighted_edges_from(zip(uniq[:, 0].tolist(), uniq[:, 1].tolist(), counts.astype(float).tolist()))
    if G.number_of_edges() == 0:
        comms = [[v] for v in G.nodes]
    elif method == "louvain":
        comms = nx.community.louvain_communities(G, weight="weight", resolution=resolution, seed=int(seed))
    else:
        comms = nx.community.greedy_modularity_communities(G, weight="weight", resolution=resolution)
    root_label = {}
    for c in comms:
        for v in c:
            root_label[v] = c
    labels = np.full(n, -1, dtype=np.int64)
    groups: dict[int, list[int]] = {}
    for v in nodes.tolist():
        groups.setdefault(id(root_label[int(roots[v])]), []).append(v)
    for cid, members in enumerate(sorted(groups.values(), key=min)):
        labels[members] = cid
    return labels


def build_topology(graph: Any, robot: int, *, method: str = "louvain", seed: int = 0, resolution: float = 1.0,
                   prune: bool = True, dist: Optional[np.ndarray] = None, coarsen: int = 2,
                   utility: Optional[np.ndarray] = None) -> TopologicalGraph:
    """Detect, collapse and prune the communities of the viewpoint graph reachable from ``robot``.

    Parameters
    ----------
    graph : ViewpointGraph
    robot : int
        The robot's node.
    method : {"louvain", "greedy"}
    seed : int
        Seed of Louvain (default 0: the graph alone fixes the answer; :class:`FARE` passes one
        derived from the run's seed for every replan).
    resolution : float
        Modularity resolution (lower gives fewer, larger communities).
    prune : bool
        Apply modularity-based pruning (merges, dead ends, chains).
    dist : array, optional
        Shortest-path distances from ``robot`` when already computed.
    coarsen : int
        Group viewpoints into connected pieces of ``coarsen x coarsen`` lattice blocks before
        detection (1: detect on the viewpoint graph itself); speeds Louvain up about
        ``coarsen^2`` times.
    utility : array, optional
        Per-node values to use instead of ``graph.utility`` (e.g. ``graph.gain``); zero where
        the frontier utility is zero.

    Examples
    --------
    >>> import numpy as np
    >>> from planning.exploration.viewpoints import ViewpointGraph
    >>> b = np.zeros((30, 30), np.int8); f = np.zeros((30, 30), bool)
    >>> g = ViewpointGraph((30, 30), spacing=3, sensor_range=5.0); g.update(b, f, (0, 30, 0, 30))
    >>> topo = build_topology(g, 0, seed=0)
    >>> topo.is_connected(), topo.modularity > 0
    (True, True)
    """
    where = "build_topology()"
    check_choice(method, "method", where, COMMUNITY_METHODS)
    check_real(resolution, "resolution", where, lower=0.0, lower_strict=True)
    coarsen = check_int(coarsen, "coarsen", where, lower=1)
    if not (0 <= int(robot) < graph.n):
        raise InvalidInputError(f"{where}: robot node {robot} is not in the graph of {graph.n} nodes")
    if dist is None:
        dist, _ = graph.shortest_paths(robot)
    nodes = np.nonzero(np.isfinite(dist[: graph.n]))[0]
    in_comp = np.zeros(graph.n, dtype=bool)
    in_comp[nodes] = True
    all_edges = graph.edges()
    edges = all_edges[in_comp[all_edges[:, 0]] & in_comp[all_edges[:, 1]]] if len(all_edges) else all_edges
    labels = _communities(graph, nodes, edges, method=method, seed=seed, resolution=resolution, coarsen=coarsen)
    n_comm = int(labels.max()) + 1 if len(nodes) else 0
    comms = [np.nonzero(labels == c)[0] for c in range(n_comm)]
    q0 = modularity(edges, labels[: graph.n], None) if len(edges) else 0.0
    m = float(len(edges))
    util = (graph.utility if utility is None else np.asarray(utility))[: graph.n]
    sizes = {"viewpoints": int(len(nodes)), "viewpoint_edges": int(len(edges)), "communities_before": n_comm}

    def adjacency(lab: np.ndarray) -> dict[tuple[int, int], int]:
        if not len(edges):
            return {}
        la, lb = lab[edges[:, 0]], lab[edges[:, 1]]
        cross = la != lb
        pairs = np.stack([np.minimum(la[cross], lb[cross]), np.maximum(la[cross], lb[cross])], axis=1)
        if not len(pairs):
            return {}
        uniq, counts = np.unique(pairs, axis=0, return_counts=True)
        return {(int(a), int(b)): int(k) for (a, b), k in zip(uniq.tolist(), counts.tolist())}

    adj = adjacency(labels)
    sizes["links_before"] = len(adj)
    q1 = q0
    if prune and m > 0:
        # 1. modularity-raising merges (bounded: each merge removes one community)
        deg = np.zeros(graph.n)
        np.add.at(deg, edges[:, 0], 1.0)
        np.add.at(deg, edges[:, 1], 1.0)
        K = {c: float(deg[list(members)].sum()) for c, members in enumerate(comms)}
        for _ in range(n_comm):
            best, best_dq = None, 1e-12
            for (a, b), e_ab in adj.items():
                dq = e_ab / m - K[a] * K[b] / (2.0 * m * m)
                if dq > best_dq:
                    best, best_dq = (a, b), dq
            if best is None:
                break
            a, b = best
            labels[labels == b] = a
            K[a] += K.pop(b)
            adj = adjacency(labels)
        q1 = modularity(edges, labels[: graph.n], None)
    # collapse
    ids = sorted({int(v) for v in labels[nodes]})
    pos = graph.positions.astype(np.float64)
    comm: dict[int, dict[str, Any]] = {}
    for cid in ids:
        mem = np.nonzero(labels == cid)[0]
        cen = pos[mem].mean(axis=0)
        u = util[mem]
        if u.max() > 0:
            best = mem[u == u.max()]
            rep = int(best[np.argmin(((pos[best] - cen) ** 2).sum(axis=1))])
        else:
            rep = int(mem[np.argmin(((pos[mem] - cen) ** 2).sum(axis=1))])
        comm[cid] = {"members": tuple(int(v) for v in mem), "rep": rep, "centroid": (float(cen[0]), float(cen[1])),
                     "utility": int(u.sum()), "area": float(len(mem) * graph.spacing ** 2)}
    robot_comm = int(labels[robot])
    reps = [comm[c]["rep"] for c in ids]
    dmat = np.empty((len(ids), len(ids)))
    for i, r in enumerate(reps):
        d, _ = graph.shortest_paths(r)
        dmat[i] = d[reps]
    dmat = np.minimum(dmat, dmat.T)
    index = {c: i for i, c in enumerate(ids)}
    links = {(a, b): float(dmat[index[a], index[b]]) for (a, b) in adj}
    alive = set(ids)
    if prune:
        def nbrs(a: int) -> set[int]:
            return {y for (x, y) in links if x == a} | {x for (x, y) in links if y == a}

        for _ in range(len(ids) + 1):  # 2. dead ends
            dead = [a for a in sorted(alive) if a != robot_comm and comm[a]["utility"] == 0 and len(nbrs(a)) <= 1
                    and len(alive) > 1]
            if not dead:
                break
            for a in dead:
                if len(alive) <= 1 or len(nbrs(a)) > 1:
                    continue
                alive.discard(a)
                links = {k: v for k, v in links.items() if a not in k}
        for _ in range(len(ids) + 1):  # 3. chains
            chain = [a for a in sorted(alive) if a != robot_comm and comm[a]["utility"] == 0 and len(nbrs(a)) == 2]
            if not chain:
                break
            a = chain[0]
            x, y = sorted(nbrs(a))
            via = links[(min(a, x), max(a, x))] + links[(min(a, y), max(a, y))]
            alive.discard(a)
            links = {k: v for k, v in links.items() if a not in k}
            key = (x, y)
            links[key] = min(links.get(key, math.inf), via)
    communities = {
        c: Community(id=c, members=comm[c]["members"], representative=comm[c]["rep"],
                     representative_cell=(int(pos[comm[c]["rep"], 0]), int(pos[comm[c]["rep"], 1])),
                     centroid=comm[c]["centroid"], utility=comm[c]["utility"], area=comm[c]["area"])
        for c in sorted(alive)}
    distances = {(a, b): float(dmat[index[a], index[b]]) for a in alive for b in alive}
    robot_distances = {c: float(dist[comm[c]["rep"]]) for c in alive}
    sizes["communities_after"] = len(alive)
    sizes["links_after"] = len(links)
    return TopologicalGraph(communities=communities, links=links, distances=distances, robot_community=robot_comm,
                            robot_distances=robot_distances, modularity=q0, modularity_merged=q1, sizes=sizes,
                            labels={int(v): int(labels[v]) for v in nodes}, method=method)
