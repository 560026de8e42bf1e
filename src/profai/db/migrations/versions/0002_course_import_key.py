"""course import key

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 09:43:56.614575
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('import_key', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint('uq_courses_import_key', ['import_key'])



def downgrade() -> None:
    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.drop_constraint('uq_courses_import_key', type_='unique')
        batch_op.drop_column('import_key')

