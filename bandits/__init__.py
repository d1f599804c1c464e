"""Combinatorial restless bandits (coRMAB) and SEQUOIA (see the bandits issue)."""
