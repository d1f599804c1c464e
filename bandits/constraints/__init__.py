"""The coRMAB domains as constraint classes: one class per domain, one interface (:class:`Domain`).

``bandits.make_domain`` (in :mod:`bandits.domains`) wraps an instance of one of them in a
:class:`~bandits.CoRMAB`; :mod:`bandits.io` writes a domain into a document's metadata and
reads it back. The domains (see each module):

``"budget"`` (:class:`BudgetConstraint`)
    ``sum(a) <= B``.
``"path"`` (:class:`PathConstraint`)
    the pulled arms (graph nodes) lie on a closed walk of exactly ``2B`` edges from a source.
``"matching"`` (:class:`MatchingConstraint`)
    every pulled arm needs two compatible (worker, slot) assignments.
``"capacity"`` (:class:`CapacityConstraint`)
    every pulled arm is packed into one worker's capacity.
``"multiple_interventions"`` (:class:`InterventionConstraint`)
    exactly ``B`` of ``N`` interventions, acting on the arms through sigmoid responses.

This package imports nothing from :mod:`bandits.problem`, so the document reader can rebuild
domains and ``make_domain`` can build problems without an import cycle.
"""

from bandits.constraints.base import (Domain, DomainSizeError, RowBuilder, check_action_vector, check_cells,
                                      enumerate_down_closed, random_maximal)
from bandits.constraints.budget import BudgetConstraint
from bandits.constraints.capacity import PATTERN_LIMIT, CapacityConstraint
from bandits.constraints.instances import (ARM_PARAMETERS, DOMAIN_TYPES, DOMAINS, DomainInstance, default_arms,
                                           generate)
from bandits.constraints.interventions import InterventionConstraint
from bandits.constraints.matching import HALL_MAX_SLOTS, MatchingConstraint
from bandits.constraints.path import TUBE_SIZES, PathConstraint, tube_graph

__all__ = ["Domain", "DomainSizeError", "RowBuilder", "BudgetConstraint", "PathConstraint", "MatchingConstraint",
           "CapacityConstraint", "InterventionConstraint", "DOMAIN_TYPES", "DOMAINS", "ARM_PARAMETERS",
           "DomainInstance", "generate", "default_arms", "tube_graph", "TUBE_SIZES", "HALL_MAX_SLOTS", "PATTERN_LIMIT",
           "enumerate_down_closed", "random_maximal", "check_action_vector", "check_cells"]
