"""short videos and stories

Revision ID: 0007_videos
Revises: 0006_push_subscriptions
Create Date: 2026-11-24 17:23:15

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_videos'
down_revision = '0006_push_subscriptions'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('videos',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('creator_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('video', 'story', name='videokind', native_enum=False, length=16), nullable=False),
    sa.Column('media_type', sa.Enum('video', 'photo', name='mediatype', native_enum=False, length=16), nullable=False),
    sa.Column('caption', sa.Text(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('processing', 'ready', 'failed', name='videostatus', native_enum=False, length=16), nullable=False),
    sa.Column('progress', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('duration_s', sa.Float(), nullable=True),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('size_bytes', sa.Integer(), nullable=True),
    sa.Column('source_path', sa.String(length=255), nullable=True),
    sa.Column('file_path', sa.String(length=255), nullable=True),
    sa.Column('thumbnail_path', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('ready_at', sa.DateTime(), nullable=True),
    sa.Column('expires_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['creator_id'], ['users.id'], name=op.f('fk_videos_creator_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_videos_event_id_events'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_videos'))
    )
    with op.batch_alter_table('videos', schema=None) as batch_op:
        batch_op.create_index('ix_videos_creator_kind_created', ['creator_id', 'kind', 'created_at'], unique=False)
        batch_op.create_index('ix_videos_expires', ['expires_at'], unique=False)
        batch_op.create_index('ix_videos_kind_status_created', ['kind', 'status', 'created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('videos', schema=None) as batch_op:
        batch_op.drop_index('ix_videos_kind_status_created')
        batch_op.drop_index('ix_videos_expires')
        batch_op.drop_index('ix_videos_creator_kind_created')

    op.drop_table('videos')
