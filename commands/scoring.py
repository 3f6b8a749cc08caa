"""`reformstats scoring …`: rule sets, the offices' manual points, scores."""

from __future__ import annotations

import typer

scoring = typer.Typer(help="Criterion scoring: check the rule sets (config/schemes/), write "
                           "and import the offices' manual-points sheets.",
                      no_args_is_help=True)


@scoring.command("check")
def check() -> None:
    """Read and check every rule set; print what each holds, or every problem (exit 1)."""
    from rich.console import Console
    from rich.table import Table

    from marts.rulesets import RuleSetError, describe
    from registry.settings import Settings
    from steps.scoring import rule_sets

    try:
        sets = rule_sets(Settings.from_env())
    except RuleSetError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    table = Table("scheme", "version", "valid", "fields", "criteria", "sub-criteria",
                  "scored", "manual", "max points", title="rule sets (config/schemes/)")
    for rule_set in sets.sets:
        d = describe(rule_set)
        table.add_row(d["scheme"], d["version"], d["valid"], str(d["field"]),
                      str(d["criterion"]), str(d["sub_criterion"]), str(d["scored"]),
                      str(d["manual"]), f"{d['max_points']:g}")
    Console(width=140).print(table)
