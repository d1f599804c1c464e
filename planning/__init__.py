"""Submodular planners and exploration graphs (see the planning issues)."""
