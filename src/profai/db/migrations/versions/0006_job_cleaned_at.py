"""job clean-up marker

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 09:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

import profai.db.models

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Jobs that ended before this revision were cleaned up by the code of their day.
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cleaned_at', profai.db.models.UTCDateTime(timezone=True), nullable=True))
    jobs = sa.table('jobs', sa.column('status', sa.String), sa.column('cleaned_at'), sa.column('completed_at'))
    op.execute(jobs.update().where(jobs.c.status.in_(('failed', 'cancelled'))).values(cleaned_at=jobs.c.completed_at))


def downgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_column('cleaned_at')
