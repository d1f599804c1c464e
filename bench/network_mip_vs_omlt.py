"""Choosing a combinatorial action by maximising a ReLU Q-network: NetworkMIP vs OMLT vs constant big-M.

Same network (input 2J = action + state, two hidden layers of 32, ReLU, one output), the budget
``sum(a) <= J/5``, J in {10, 20, 50, 100}, 20 random states each. Two kinds of network
(``--network``):

* ``random``: torch's default initialisation with a fixed seed, binary states. The hard case: every
  neuron is unstable over the set and the LP relaxation is several times the optimum.
* ``trained``: the Q-network SEQUOIA trains on the ``"budget"`` coRMAB with J arms and budget J/5
  (``bandits.make_domain("budget", ...)``, ``bandits.Sequoia`` with a (32, 32) network on the scaled state,
  ``--train-episodes`` episodes, greedy argmax during training to keep the bench short; with
  SEQUOIA's default ReLU-stability penalty, ``--stability-weight 0`` trains without it), states
  drawn from the coRMAB's state space and scaled as SEQUOIA scales them: the network SEQUOIA
  actually maximises at every step.

Per decision:

* ours: ``NetworkMIP(net, FeasibleSet.budget(J, J//5))`` built once, ``maximize(state)`` per state
  (``method="auto"``: enumeration when the set has at most 20 000 actions -- J <= 20 here --, else
  the exact best-first branch-and-bound over the action bits, ``method="bab"``);
* OMLT: a Pyomo model with ``ReluBigMFormulation`` rebuilt per state (as users do) and solved by
  HiGHS through Pyomo (``appsi_highs``);
* constant-M: the formulation with one M = 1e5 for every neuron, rebuilt per state from arrays and
  solved by HiGHS.

Every answer is scored by the float64 forward pass of its action; "wrong" counts answers whose value
is below the brute-force optimum by more than 1e-6 (J <= 20, where the set is enumerable).
Each solve gets ``--time-limit`` seconds (default 60); "proven" counts answers proven optimal.

Run::

    python bench/network_mip_vs_omlt.py            # full run (slow: OMLT and constant-M time out at large J)
    python bench/network_mip_vs_omlt.py --quick    # J in {10, 20}, 5 states
    python bench/network_mip_vs_omlt.py --skip omlt constant_m --time-limit 10   # ours only, all J
    python bench/network_mip_vs_omlt.py --network trained --time-limit 60       # SEQUOIA's Q-networks

``--peers-max-J`` (default 20) skips OMLT and constant-M above that J (they time out there);
``--ours-method`` forces ``mip`` / ``bab`` / ``enumerate`` instead of ``auto``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import numpy as np
import scipy.sparse as sp


def make_net(J: int, seed: int):
    import torch

    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(2 * J, 32), torch.nn.ReLU(), torch.nn.Linear(32, 32),
                               torch.nn.ReLU(), torch.nn.Linear(32, 1)).double()


def make_trained_net(J: int, seed: int, episodes: int, n_states: int, stability_weight: float = 0.1):
    """SEQUOIA's Q-network trained briefly on the budget coRMAB with J arms; states to decide at."""
    import bandits

    problem = bandits.make_domain("budget", n_arms=J, budget=max(1, J // 5), seed=seed)
    # the architecture (input 2J: the action and the scaled state; two hidden layers of 32),
    # not SEQUOIA's current default network
    agent = bandits.Sequoia(problem, seed=seed, hidden=(32, 32), state_encoding="scaled", train_selection="greedy",
                            action_selection="greedy", device="cpu", stability_weight=stability_weight)
    agent.train(episodes=episodes)
    S = problem.n_states
    rng = np.random.default_rng(seed + 1000 + J)
    states = rng.integers(0, S, size=(n_states, J)) / max(S - 1, 1)
    return agent.q.cpu().double(), states


def omlt_solve(layers, J, B, state, time_limit):
    import pyomo.environ as pyo
    from omlt import OmltBlock
    from omlt.neuralnet import NetworkDefinition, ReluBigMFormulation
    from omlt.neuralnet.layer import DenseLayer, InputLayer

    n_in = 2 * J
    bounds = {i: (0.0, 1.0) for i in range(J)}
    bounds.update({J + i: (float(state[i]), float(state[i])) for i in range(J)})
    net = NetworkDefinition(scaled_input_bounds=bounds)
    prev = InputLayer([n_in])
    net.add_layer(prev)
    for k, (W, b) in enumerate(layers):
        act = "relu" if k + 1 < len(layers) else "linear"
        layer = DenseLayer(prev.output_size, [W.shape[0]], W.T.copy(), b.copy(), activation=act)
        net.add_layer(layer)
        net.add_edge(prev, layer)
        prev = layer
    m = pyo.ConcreteModel()
    m.nn = OmltBlock()
    m.nn.build_formulation(ReluBigMFormulation(net))
    m.a = pyo.Var(range(J), domain=pyo.Binary)
    m.link = pyo.Constraint(range(J), rule=lambda mm, i: mm.nn.inputs[i] == mm.a[i])
    m.fix_state = pyo.Constraint(range(J), rule=lambda mm, i: mm.nn.inputs[J + i] == float(state[i]))
    m.budget = pyo.Constraint(expr=sum(m.a[i] for i in range(J)) <= B)
    m.obj = pyo.Objective(expr=m.nn.outputs[0], sense=pyo.maximize)
    opt = pyo.SolverFactory("appsi_highs")
    opt.config.time_limit = time_limit
    opt.config.mip_gap = 0.0
    res = opt.solve(m, load_solutions=False)
    term = str(res.solver.termination_condition).rsplit(".", 1)[-1]
    if len(res.solution) == 0:
        return None, False
    m.solutions.load_from(res)
    x = np.array([round(pyo.value(m.a[i])) for i in range(J)], dtype=np.int64)
    return x, term == "optimal"


def constant_m_solve(layers, J, B, state, time_limit, M=1e5):
    from solvers.highs import LinearModel

    n = J
    sizes = [W.shape[0] for W, _ in layers[:-1]]
    ncol = n + 2 * sum(sizes)
    rows, cols, vals, rl, ru = [], [], [], [], []
    rows.append(np.zeros(n, dtype=int)); cols.append(np.arange(n)); vals.append(np.ones(n))
    rl.append([-np.inf]); ru.append([B])
    r, c, prev = 1, n, np.arange(n)
    for l, (W, b) in enumerate(layers[:-1]):
        w = W.shape[0]
        h, d = np.arange(c, c + w), np.arange(c + w, c + 2 * w)
        c += 2 * w
        Wp = W[:, :n] if l == 0 else W
        bb = b + (W[:, n:] @ state if l == 0 else 0.0)
        Wc = sp.coo_matrix(Wp)
        for k, extra in enumerate((None, M)):
            rr = np.arange(r, r + w)
            rows += [rr, rr[Wc.row]]; cols += [h, prev[Wc.col]]; vals += [np.ones(w), -Wc.data]
            if extra is not None:
                rows.append(rr); cols.append(d); vals.append(np.full(w, M))
            r += w
        rr = np.arange(r, r + w)
        rows += [rr, rr]; cols += [h, d]; vals += [np.ones(w), np.full(w, -M)]
        r += w
        rl += [bb, np.full(w, -np.inf), np.full(w, -np.inf)]
        ru += [np.full(w, np.inf), bb + M, np.zeros(w)]
        prev = h
    A = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r, ncol))
    cost = np.zeros(ncol)
    cost[prev] = layers[-1][0][0]
    integ = np.zeros(ncol, dtype=bool)
    integ[:n] = True
    cu = np.full(ncol, np.inf)
    cu[:n] = 1
    c = n
    for w in sizes:
        integ[c + w:c + 2 * w] = True
        cu[c + w:c + 2 * w] = 1
        c += 2 * w
    model = LinearModel(cost, A, np.concatenate([np.atleast_1d(x) for x in rl]),
                        np.concatenate([np.atleast_1d(x) for x in ru]), col_lower=0.0, col_upper=cu,
                        integrality=integ, sense="max", offset=float(layers[-1][1][0]))
    res = model.solve(time_limit=time_limit, mip_rel_gap=0.0)
    if res.x is None:
        return None, False
    return np.round(res.x[:n]).astype(np.int64), res.proven_optimal


def main(argv=None) -> int:
    import logging

    logging.getLogger("pyomo").setLevel(logging.ERROR)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="J in {10, 20}, 5 states")
    p.add_argument("--J", type=int, nargs="*", default=None)
    p.add_argument("--states", type=int, default=None)
    p.add_argument("--time-limit", type=float, default=60.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skip", nargs="*", default=[], choices=["omlt", "constant_m"])
    p.add_argument("--peers-max-J", type=int, default=20)
    p.add_argument("--ours-method", default="auto", choices=["auto", "mip", "bab", "enumerate"])
    p.add_argument("--network", default="random", choices=["random", "trained"])
    p.add_argument("--train-episodes", type=int, default=10, help="SEQUOIA episodes for --network trained")
    p.add_argument("--stability-weight", type=float, default=0.1,
                   help="SEQUOIA's ReLU-stability penalty for --network trained (default 0.1, SEQUOIA's; 0 = none)")
    args = p.parse_args(argv)
    Js = args.J or ([10, 20] if args.quick else [10, 20, 50, 100])
    n_states = args.states or (5 if args.quick else 20)

    from solvers.feasible_set import FeasibleSet
    from solvers.network_mip import NetworkMIP, network_layers

    rows = []
    for J in Js:
        B = max(1, J // 5)
        if args.network == "trained":
            t0 = time.perf_counter()
            net, states = make_trained_net(J, args.seed, args.train_episodes, n_states,
                                           args.stability_weight)
            print(f"J={J}: trained SEQUOIA's Q-network in {time.perf_counter() - t0:.1f} s", file=sys.stderr,
                  flush=True)
        else:
            net = make_net(J, args.seed + J)
            rng = np.random.default_rng(args.seed + 1000 + J)
            states = rng.integers(0, 2, size=(n_states, J)).astype(float)
        layers = network_layers(net)
        fs = FeasibleSet.budget(J, B)
        t0 = time.perf_counter()
        ours = NetworkMIP(net, fs, state_dim=J, method=args.ours_method)
        build = time.perf_counter() - t0
        brute = None
        if fs.count(limit=200_000) is not None:
            X = fs.enumerate(limit=200_000)
            brute = [float(ours.forward(X, s).max()) for s in states]
        stats = {}

        def record(name, k, x, proven, dt, unstable=None):
            st = stats.setdefault(name, {"t": [], "proven": 0, "wrong": 0, "checked": 0, "none": 0, "unstable": []})
            st["t"].append(dt)
            if unstable is not None:
                st["unstable"].append(unstable)
            st["proven"] += int(bool(proven))
            if x is None:
                st["none"] += 1
                return
            if brute is not None:
                st["checked"] += 1
                if ours.forward(x, states[k]) < brute[k] - 1e-6:
                    st["wrong"] += 1

        for k, s in enumerate(states):
            t = time.perf_counter()
            res = ours.maximize(s, time_limit=args.time_limit)
            record(f"ours ({ours.method})", k, res.x, res.proven_optimal, time.perf_counter() - t, res.n_binaries)
            if "omlt" not in args.skip and J <= args.peers_max_J:
                t = time.perf_counter()
                x, proven = omlt_solve(layers, J, B, s, args.time_limit)
                record("omlt bigm", k, x, proven, time.perf_counter() - t)
            if "constant_m" not in args.skip and J <= args.peers_max_J:
                t = time.perf_counter()
                x, proven = constant_m_solve(layers, J, B, s, args.time_limit)
                record("constant-M", k, x, proven, time.perf_counter() - t)
        base = float(np.median(next(iter(stats.values()))["t"]))
        for name, st in stats.items():
            med = float(np.median(st["t"]))
            rows.append((J, name, med, st["proven"], len(st["t"]),
                         f"{st['wrong']}/{st['checked']}" if brute is not None else "n/a", med / base,
                         build if name.startswith("ours") else math.nan,
                         float(np.median(st["unstable"])) if st["unstable"] else math.nan))
        print(f"J={J} done", file=sys.stderr, flush=True)

    print(f"network: {args.network}")
    print(f"{'J':>4} {'method':<18} {'median s/decision':>18} {'proven':>8} {'wrong':>8} {'x ours':>9} {'build s':>8} "
          f"{'unstable':>8}")
    for J, name, med, proven, total, wrong, ratio, build, unstable in rows:
        b = f"{build:.3f}" if math.isfinite(build) else ""
        u = f"{unstable:.0f}" if math.isfinite(unstable) else ""
        print(f"{J:>4} {name:<18} {med:>18.4f} {proven:>4}/{total:<3} {wrong:>8} {ratio:>9.1f} {b:>8} {u:>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
