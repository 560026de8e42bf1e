"""course first: a course is readable before it is searchable

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 11:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

import profai.db.models

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('step', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('step_progress', sa.Integer(), nullable=True))
    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('indexed_at', profai.db.models.UTCDateTime(timezone=True), nullable=True))
    # Courses from before this revision were saved only once their index was complete.
    courses = sa.table('courses', sa.column('indexed_at'), sa.column('created_at'))
    op.execute(courses.update().values(indexed_at=courses.c.created_at))


def downgrade() -> None:
    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.drop_column('indexed_at')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_column('step_progress')
        batch_op.drop_column('step')
