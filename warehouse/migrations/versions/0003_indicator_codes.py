"""Indicator codes as shared/domain/INDICATORS.md names them: digitised inputs and
digitised results are two indicators, `digitised_inputs_rate` and
`digitised_results_rate` (were `digitised_dossier_rate` and `digitised_result_rate`).

Rows keep their formula_version: months loaded before formula 2026.2 (postal returns
counted in the month the dossier was resolved) say so until they are rebuilt.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"

RENAMED = {"digitised_dossier_rate": "digitised_inputs_rate",
           "digitised_result_rate": "digitised_results_rate"}


def upgrade() -> None:
    for table in ("fact_indicator_monthly", "dim_indicator"):
        for old, new in RENAMED.items():
            op.execute(sa.text(f"UPDATE {table} SET indicator_code = :new "
                               "WHERE indicator_code = :old").bindparams(old=old, new=new))


def downgrade() -> None:
    raise NotImplementedError("the warehouse is only migrated forward")
