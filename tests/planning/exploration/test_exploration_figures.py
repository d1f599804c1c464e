"""Exploration figures say what they show: start and end labelled, no 'communities' for planners without them."""

from __future__ import annotations

import pytest

pytest.importorskip("matplotlib")

from planning.exploration import figures, maps  # noqa: E402
from planning.exploration.explore import explore  # noqa: E402


@pytest.fixture
def captured(monkeypatch):
    figs = []

    def keep(fig, path):
        figs.append(fig)
        return path

    monkeypatch.setattr(figures, "_save", keep)
    return figs


def _legend(fig):
    legend = fig.axes[0].get_legend()
    return [t.get_text() for t in legend.get_texts()] if legend is not None else []


def test_planner_without_communities_says_so(captured, tmp_path):
    m = maps.indoor(50, seed=0)
    res = explore(m, "nearest_frontier", seed=0)
    figures.save_figures(res, m.grid, tmp_path, "nf")
    trajectory, communities, waypoints = (fig.axes[0].get_title() for fig in captured)
    assert "does not detect" in communities and "nan" not in communities and "0 communities" not in communities
    assert "plans no route" in waypoints
    assert _legend(captured[0]) == ["start", "end"] and _legend(captured[2]) == ["start", "end"]


def test_fare_titles_report_its_communities(captured, tmp_path):
    m = maps.indoor(50, seed=2)
    res = explore(m, "fare", seed=0)
    figures.plot_communities(res, m.grid, tmp_path / "c.png")
    title = captured[0].axes[0].get_title()
    assert "communities, modularity" in title and "nan" not in title
