"""PNG figures of an exploration run (matplotlib, Agg backend, headless).

* :func:`plot_trajectory`: the ground-truth map, the final belief shading and the trajectory;
* :func:`plot_communities`: viewpoints coloured by community of the last global plan;
* :func:`plot_waypoints`: the last plan's waypoint sequence over the belief.

Each writes the PNG atomically and returns its path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import numpy as np

from engine.errors import InvalidInputError
from engine.io import atomic_path

__all__ = ["plot_trajectory", "plot_communities", "plot_waypoints", "save_figures"]


def _figure(shape: tuple[int, int]):
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    h, w = shape
    scale = 6.0 / max(h, w)
    fig = Figure(figsize=(max(3.0, w * scale), max(3.0, h * scale)), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    ax.set_xticks([])
    ax.set_yticks([])
    return fig, ax


def _background(ax: Any, grid: np.ndarray, belief: Optional[np.ndarray]) -> None:
    img = np.ones(grid.shape + (3,))
    img[grid != 0] = 0.0
    if belief is not None:
        unknown = (belief == -1) & (grid == 0)
        img[unknown] = (0.82, 0.82, 0.82)
    ax.imshow(img, interpolation="nearest")


def _save(fig: Any, path: Any) -> Path:
    p = Path(path)
    with atomic_path(p, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight")
    return p


def _check(result: Any, where: str) -> None:
    if not hasattr(result, "trajectory") or not hasattr(result, "belief"):
        raise InvalidInputError(f"{where}: expected an ExplorationResult, got {type(result).__name__}")


def _mark_ends(ax: Any, t: np.ndarray) -> None:
    """The start (green circle) and the end (red square) of a trajectory, labelled in a legend."""
    if not len(t):
        return
    ax.plot(t[0, 1], t[0, 0], "o", color="tab:green", ms=6, label="start")
    ax.plot(t[-1, 1], t[-1, 0], "s", color="tab:red", ms=5, label="end")
    ax.legend(loc="upper right", fontsize=7, framealpha=0.8)


def _plans_communities(result: Any) -> bool:
    """True when the planner detects communities (FARE): its result has a topology record."""
    return bool(getattr(result, "topology", None))


def plot_trajectory(result: Any, grid: Any, path: Any, *, title: str = "") -> Path:
    """Map (obstacles black, still-unknown free space grey) with the trajectory; start (green) and
    end (red) marked and labelled."""
    _check(result, "plot_trajectory()")
    grid = np.asarray(grid)
    fig, ax = _figure(grid.shape)
    _background(ax, grid, result.belief)
    t = np.asarray(result.trajectory)
    ax.plot(t[:, 1], t[:, 0], "-", color="tab:blue", lw=1.0)
    _mark_ends(ax, t)
    ax.set_title(title or f"{result.method}: distance {result.objective:.0f}, explored {result.explored[-1]:.1%}",
                 fontsize=9)
    return _save(fig, path)


def plot_communities(result: Any, grid: Any, path: Any, *, title: str = "") -> Path:
    """Viewpoints coloured by their community in the last global plan (grey: no plan / pruned).

    For a planner that detects no communities (all but FARE) the title says so."""
    _check(result, "plot_communities()")
    grid = np.asarray(grid)
    fig, ax = _figure(grid.shape)
    _background(ax, grid, result.belief)
    nodes = np.asarray(result.graph_nodes).reshape(-1, 2)
    labels = np.asarray(result.community_labels) if result.community_labels is not None else np.full(len(nodes), -1)
    none = labels < 0
    ax.scatter(nodes[none, 1], nodes[none, 0], s=3, color="0.6")
    if (~none).any():
        ax.scatter(nodes[~none, 1], nodes[~none, 0], s=6, c=labels[~none] % 20, cmap="tab20", vmin=0, vmax=19)
    n_comm = len(np.unique(labels[~none])) if (~none).any() else 0
    if not _plans_communities(result):
        default = f"{result.method}: no communities (this planner does not detect them)"
    elif not n_comm:
        default = f"{result.method}: no community plan was made"
    else:
        q = result.topology.get("last", {}).get("modularity", float("nan"))
        default = f"{n_comm} communities, modularity {q:.3f}"
    ax.set_title(title or default, fontsize=9)
    return _save(fig, path)


def plot_waypoints(result: Any, grid: Any, path: Any, *, title: str = "") -> Path:
    """The last global plan: numbered waypoint cells joined in visiting order, over the belief."""
    _check(result, "plot_waypoints()")
    grid = np.asarray(grid)
    fig, ax = _figure(grid.shape)
    _background(ax, grid, result.belief)
    wp = np.asarray(result.waypoint_sequence).reshape(-1, 2)
    t = np.asarray(result.trajectory)
    ax.plot(t[:, 1], t[:, 0], "-", color="0.7", lw=0.6)
    if len(wp):
        ax.plot(wp[:, 1], wp[:, 0], "--o", color="tab:orange", ms=4, lw=1.0)
        for i, (r, c) in enumerate(wp):
            ax.annotate(str(i + 1), (c, r), fontsize=7, color="tab:red")
    # every waypoint the run followed
    used = np.asarray(result.waypoints).reshape(-1, 2)
    used = used[used[:, 0] >= 0]
    if len(used):
        u = np.unique(used, axis=0)
        ax.scatter(u[:, 1], u[:, 0], s=10, marker="x", color="tab:purple")
    _mark_ends(ax, t)
    if not len(wp) and not len(used):
        default = (f"{result.method}: no waypoints (this planner plans no route)" if not _plans_communities(result)
                   else f"{result.method}: no route was planned")
    else:
        default = f"waypoints: {len(np.unique(used, axis=0)) if len(used) else 0} followed"
    ax.set_title(title or default, fontsize=9)
    return _save(fig, path)


def save_figures(result: Any, grid: Any, directory: Any, stem: str) -> list[Path]:
    """All three figures as ``<stem>_trajectory.png``, ``_communities.png``, ``_waypoints.png``."""
    d = Path(directory)
    return [plot_trajectory(result, grid, d / f"{stem}_trajectory.png"),
            plot_communities(result, grid, d / f"{stem}_communities.png"),
            plot_waypoints(result, grid, d / f"{stem}_waypoints.png")]
