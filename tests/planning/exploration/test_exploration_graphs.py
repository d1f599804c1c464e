"""Viewpoint graph, topology (communities, modularity, pruning) and strategists."""

import itertools
import json

import networkx as nx
import numpy as np
import pytest

from planning.exploration import maps
from planning.exploration.explore import ExplorationState, NearestViewpoint
from planning.exploration.sensing import frontier_mask, line_cells, utilities
from planning.exploration.strategists import (GreedyStrategist, LLMStrategist, RouteStrategist, StrategistError,
                                              plan_waypoints, validate_sequence)
from planning.exploration.topology import build_topology, modularity


def _partly_explored(kind="indoor", size=60, seed=1, steps=25):
    m = maps.generate(kind, size, seed=seed)
    st = ExplorationState(m, sensor_range=6.0, spacing=2, k=16)
    nf = NearestViewpoint()
    for _ in range(steps):
        t = nf.select(st)
        if t is None:
            break
        st.move_to_node(st.next_hop(t))
        st.sense_here()
        st.refresh_paths()
    return m, st


def test_edges_never_cross_obstacles_and_are_known_free():
    for kind in maps.MAP_KINDS:
        m, st = _partly_explored(kind)
        g = st.graph
        e = g.edges()
        assert len(e) > 50
        for a, b in e:
            for x, y in ((a, b), (b, a)):  # the robot may travel an edge either way
                cells = line_cells(int(g.rows[x]), int(g.cols[x]), int(g.rows[y]), int(g.cols[y]))
                assert (m.grid[cells[:, 0], cells[:, 1]] == 0).all()
                assert (st.belief[cells[:, 0], cells[:, 1]] == 0).all()
        # undirected, weights are Euclidean lengths, at most k per node from its own choices
        for i in range(g.n):
            for s in range(g.deg[i]):
                j = g.nbr[i, s]
                assert g.has_edge(j, i)
                assert g.wgt[i, s] == pytest.approx(np.hypot(g.rows[i] - g.rows[j], g.cols[i] - g.cols[j]))
                assert g.wgt[i, s] <= g.link_radius + 1e-9


def test_incremental_updates_match_a_full_recomputation():
    m, st = _partly_explored("warehouse", steps=30)
    g = st.graph
    # nodes: every known-free lattice cell and every robot position
    lattice = {(int(r), int(c)) for r, c in np.argwhere(st.belief == 0) if r % 2 == 0 and c % 2 == 0}
    nodes = {(int(r), int(c)) for r, c in g.positions}
    assert lattice <= nodes
    assert all(st.belief[r, c] == 0 for r, c in nodes)
    # utilities of unvisited nodes equal a fresh computation on the final belief
    fresh = np.zeros(g.n, dtype=np.int64)
    utilities(st.belief, frontier_mask(st.belief), g.rows, g.cols, g.sensor_range, fresh,
              np.arange(g.n, dtype=np.int64))
    unvisited = g.visits[: g.n] == 0
    assert np.array_equal(g.utility[: g.n][unvisited], fresh[unvisited])
    assert (g.utility[: g.n][~unvisited] == 0).all()
    assert np.array_equal(st.frontier, frontier_mask(st.belief))
    assert st.frontier_count == int(st.frontier.sum())


def test_modularity_agrees_with_networkx_on_known_graphs():
    G = nx.karate_club_graph()
    club = [0 if G.nodes[v]["club"] == "Mr. Hi" else 1 for v in G.nodes]
    edges = np.array(G.edges())
    q = modularity(edges, club)
    parts = [{v for v in G if club[v] == 0}, {v for v in G if club[v] == 1}]
    assert q == pytest.approx(nx.community.modularity(G, parts, weight=None), abs=1e-12)
    assert q == pytest.approx(0.3582, abs=1e-4)
    # hand-computed: two triangles joined by an edge, m = 7, each side L = 3, K = 7
    two = np.array([[0, 1], [1, 2], [0, 2], [3, 4], [4, 5], [3, 5], [2, 3]])
    assert modularity(two, [0, 0, 0, 1, 1, 1]) == pytest.approx(2 * (3 / 7 - (7 / 14) ** 2))
    assert modularity(two, [0] * 6) == pytest.approx(0.0)
    w = np.array([G.edges[a, b]["weight"] for a, b in edges], dtype=float)
    assert modularity(edges, club, w) == pytest.approx(nx.community.modularity(G, parts, weight="weight"))
    rng = np.random.default_rng(0)
    for seed in range(5):
        H = nx.gnm_random_graph(30, 80, seed=seed)
        lab = rng.integers(0, 4, 30)
        parts = [{v for v in H if lab[v] == k} for k in set(lab.tolist())]
        assert modularity(np.array(H.edges()), lab) == pytest.approx(nx.community.modularity(H, parts))


@pytest.mark.parametrize("kind,seed", [("indoor", 1), ("forest", 2), ("warehouse", 3)])
def test_pruned_graph_connected_and_keeps_frontier_communities(kind, seed):
    m, st = _partly_explored(kind, seed=seed, steps=40)
    for coarsen in (1, 2):
        topo = build_topology(st.graph, st.robot, seed=7, coarsen=coarsen)
        unpruned = build_topology(st.graph, st.robot, seed=7, coarsen=coarsen, prune=False)
        assert topo.is_connected()
        assert topo.robot_community in topo.communities
        # every community of the merged partition that holds frontiers survives
        merged_labels = np.array([topo.labels[v] for v in sorted(topo.labels)])
        nodes = np.array(sorted(topo.labels))
        util = st.graph.utility[nodes]
        frontier_comms = set(merged_labels[util > 0].tolist())
        assert frontier_comms == set(topo.frontier_communities())
        assert topo.sizes["communities_after"] <= topo.sizes["communities_before"]
        assert unprune_ok(unpruned)
        # the reported modularity is the modularity of the detected partition
        lab = np.full(st.graph.n, -1)
        for v, c in unpruned.labels.items():
            lab[v] = c
        e = st.graph.edges()
        e = e[(lab[e[:, 0]] >= 0) & (lab[e[:, 1]] >= 0)]
        assert unpruned.modularity == pytest.approx(modularity(e, lab))
        assert topo.modularity_merged >= topo.modularity - 1e-12
        json.loads(topo.to_json())
        assert f"robot in community {topo.robot_community}" in topo.to_prompt()


def unprune_ok(t):
    return t.is_connected() and t.sizes["communities_before"] == t.sizes["communities_after"]


def test_same_seed_same_communities():
    _, st = _partly_explored("forest", seed=4, steps=30)
    a = build_topology(st.graph, st.robot, seed=3)
    b = build_topology(st.graph, st.robot, seed=3)
    assert a.labels == b.labels and a.modularity == b.modularity


def _topo():
    _, st = _partly_explored("indoor", seed=5, steps=40)
    topo = build_topology(st.graph, st.robot, seed=0)
    assert len(topo.frontier_communities()) >= 2
    return topo


def _open_path_cost(topo, seq):
    cost = topo.robot_distances[seq[0]]
    return cost + sum(topo.distances[(a, b)] for a, b in zip(seq, seq[1:]))


def test_route_strategist_visits_all_frontier_communities_and_beats_nearest_neighbour():
    topo = _topo()
    seq = RouteStrategist(prize_weight=1e6).plan("", topo)
    assert sorted(seq) == sorted(topo.frontier_communities())
    assert validate_sequence(seq, topo) == seq
    # OR-Tools starts from the cheapest-arc (nearest neighbour) path and only improves it
    left, cur, nn = set(topo.frontier_communities()), None, []
    while left:
        nxt = min(sorted(left), key=lambda c: topo.robot_distances[c] if cur is None else topo.distances[(cur, c)])
        nn.append(nxt)
        left.discard(nxt)
        cur = nxt
    assert _open_path_cost(topo, seq) <= _open_path_cost(topo, nn) + 1e-6
    if len(seq) <= 7:
        best = min(_open_path_cost(topo, list(p)) for p in itertools.permutations(seq))
        assert _open_path_cost(topo, seq) >= best - 1e-6
    assert RouteStrategist(prize_weight=1e6).plan("", topo) == seq  # deterministic


def test_validation_and_recorded_fallbacks():
    topo = _topo()
    good = topo.frontier_communities()
    with pytest.raises(StrategistError, match="unknown community"):
        validate_sequence([10 ** 6], topo)
    with pytest.raises(StrategistError, match="integers"):
        validate_sequence(["a"], topo)
    with pytest.raises(StrategistError, match="repeated"):
        validate_sequence([good[0], good[0]], topo)
    with pytest.raises(StrategistError, match="list"):
        validate_sequence("1,2", topo)
    with pytest.raises(StrategistError, match="empty"):
        validate_sequence([], topo)

    class Boom:
        name = "boom"

        def plan(self, description, graph):
            raise RuntimeError("model offline")

    seq, reason = plan_waypoints(Boom(), "d", topo)
    assert reason is not None and "model offline" in reason
    assert sorted(seq) == sorted(RouteStrategist().plan("d", topo))
    seq, reason = plan_waypoints(LLMStrategist(lambda p: "I think we should go north."), "d", topo)
    assert "no JSON list" in reason
    seq, reason = plan_waypoints(LLMStrategist(lambda p: "[999, 1]"), "d", topo)
    assert "unknown community" in reason
    order = list(reversed(good))
    llm = LLMStrategist(lambda p: f"Plan: {json.dumps(order)}")
    seq, reason = plan_waypoints(llm, "desc text", topo)
    assert reason is None and seq == order
    assert "desc text" in llm.last_prompt and "JSON list" in llm.last_prompt and topo.to_prompt() in llm.last_prompt
    gseq, reason = plan_waypoints(GreedyStrategist(), "d", topo)
    assert reason is None and sorted(gseq) == sorted(good)


def test_utility_greedy_local_radius_rule_by_brute_force():
    from planning.exploration import UtilityGreedy
    from engine.errors import InvalidInputError

    m, st = _partly_explored("indoor", steps=20)
    cand = st.candidates()
    assert len(cand) > 3
    far = int(cand[np.argmax(st.dist[cand])])  # a waypoint far from the robot
    dw = st.dist_from(far)

    def best(nodes, wp_dist, beta):
        score = st.graph.utility[nodes] / (st.dist[nodes] + beta * wp_dist[nodes] + st.spacing)
        return int(nodes[np.argmax(score)])

    zeros = np.zeros(st.graph.n)
    for radius in (0.0, 5.0, 12.0, 1e9):
        pick = UtilityGreedy(beta=0.3, local_radius=radius).choose(st, far)
        near = cand[st.dist[cand] <= radius]
        if len(near):
            assert pick == best(near, zeros, 0.3) and st.dist[pick] <= radius
        else:
            assert pick == best(cand, dw, 0.3)
    assert UtilityGreedy(beta=0.3).choose(st, far) == best(cand, dw, 0.3)
    # without a waypoint the radius changes nothing
    assert UtilityGreedy(local_radius=5.0).choose(st, None) == UtilityGreedy().choose(st, None)
    with pytest.raises(InvalidInputError, match="local_radius must be >= 0"):
        UtilityGreedy(local_radius=-1)
