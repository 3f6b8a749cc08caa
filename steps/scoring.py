"""Scoring step: every rule set in force scores its units for the periods ending with a
month, from the warehouse (indicators, the portal's published 766 scores and metrics, the
manual points imported), in its own transaction; the 766 is recomputed and reconciled.
"""

from __future__ import annotations

from marts.rulesets import RuleSets, load_rule_sets
from registry.settings import Settings


def rule_sets(settings: Settings) -> RuleSets:
    """Every rule set of config/schemes/, checked against the indicator catalogue."""
    from steps.marts import catalogue

    return load_rule_sets(settings.schemes_dir,
                          {i.code for i in catalogue(settings).indicators})
