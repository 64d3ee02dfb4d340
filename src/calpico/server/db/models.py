"""The database schema, as SQLAlchemy Core tables (the hot path uses Core, not the ORM).

Delivery stores each message once: ``messages`` is a per-group log keyed by
``(group_id, seq)``; ``memberships`` holds, per device and group, the log
range the device may read (``joined_seq`` < seq ≤ ``left_seq``) and how far it
has acknowledged (``acked_seq``). There is no row per recipient, except for
Welcomes, which name their recipients (``welcome_targets``).

Secrets the server hands out (tokens, attachment capabilities) are stored
only as SHA-256 hashes.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    text,
)
from sqlalchemy.types import BigInteger

__all__ = [
    "attachments",
    "blocks",
    "challenges",
    "contacts",
    "device_links",
    "devices",
    "groups",
    "invites",
    "key_packages",
    "memberships",
    "messages",
    "metadata",
    "proposals",
    "tokens",
    "users",
    "welcome_targets",
]

metadata = MetaData()

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets BIGINT.
BigId = BigInteger().with_variant(Integer(), "sqlite")

users = Table(
    "users",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("contact_policy", String(16), nullable=False, server_default="anyone"),
    Column("created_at", Float, nullable=False),
)

devices = Table(
    "devices",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("user_id", BigId, ForeignKey("users.id"), nullable=False, index=True),
    Column("signature_key", LargeBinary, nullable=False, unique=True),
    Column("cipher_suite", Integer, nullable=False),
    Column("name", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float, nullable=True),
    Column("kind", String(16), nullable=False, server_default="person"),  # DeviceKind (migration 0003)
)

tokens = Table(
    "tokens",
    metadata,
    Column("token_hash", LargeBinary, primary_key=True),
    Column("device_id", String(64), ForeignKey("devices.id"), nullable=False, index=True),
    Column("expires_at", Float, nullable=False, index=True),
)

challenges = Table(
    "challenges",
    metadata,
    Column("nonce", LargeBinary, primary_key=True),
    Column("device_id", String(64), ForeignKey("devices.id"), nullable=False),
    Column("expires_at", Float, nullable=False, index=True),
)

invites = Table(
    "invites",
    metadata,
    Column("token_hash", LargeBinary, primary_key=True),
    Column("uses_left", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
)

key_packages = Table(
    "key_packages",
    metadata,
    Column("ref", LargeBinary, primary_key=True),
    Column("device_id", String(64), ForeignKey("devices.id"), nullable=False),
    Column("cipher_suite", Integer, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("last_resort", Boolean, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("claimed_at", Float, nullable=True),
    Index("ix_key_packages_device", "device_id", "last_resort", "claimed_at"),
)

blocks = Table(
    "blocks",
    metadata,
    Column("user_id", BigId, ForeignKey("users.id"), primary_key=True),
    Column("blocked_user_id", BigId, ForeignKey("users.id"), primary_key=True),
)

contacts = Table(
    "contacts",
    metadata,
    Column("user_id", BigId, ForeignKey("users.id"), primary_key=True),
    Column("contact_user_id", BigId, ForeignKey("users.id"), primary_key=True),
)

groups = Table(
    "groups",
    metadata,
    Column("group_id", LargeBinary, primary_key=True),
    Column("cipher_suite", Integer, nullable=False),
    Column("epoch", BigInteger, nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("created_at", Float, nullable=False),
)

memberships = Table(
    "memberships",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("group_id", LargeBinary, ForeignKey("groups.group_id"), nullable=False),
    Column("device_id", String(64), ForeignKey("devices.id"), nullable=False),
    Column("leaf_index", Integer, nullable=True),
    Column("joined_seq", BigInteger, nullable=False),
    Column("left_seq", BigInteger, nullable=True),
    Column("acked_seq", BigInteger, nullable=False),
    Index("ix_memberships_device", "device_id"),
    Index(
        "ux_memberships_leaf",
        "group_id",
        "leaf_index",
        unique=True,
        sqlite_where=text("left_seq IS NULL"),
        postgresql_where=text("left_seq IS NULL"),
    ),
    Index(
        "ux_memberships_device",
        "group_id",
        "device_id",
        unique=True,
        sqlite_where=text("left_seq IS NULL"),
        postgresql_where=text("left_seq IS NULL"),
    ),
)

messages = Table(
    "messages",
    metadata,
    Column("group_id", LargeBinary, primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("kind", SmallInteger, nullable=False),
    Column("epoch", BigInteger, nullable=False),
    Column("sender", String(64), nullable=False),
    Column("client_id", String(64), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_messages_client_id", "client_id"),
    Index("ix_messages_created_at", "created_at"),
)

welcome_targets = Table(
    "welcome_targets",
    metadata,
    Column("group_id", LargeBinary, primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("device_id", String(64), primary_key=True),
)

proposals = Table(
    "proposals",
    metadata,
    Column("group_id", LargeBinary, primary_key=True),
    Column("epoch", BigInteger, primary_key=True),
    Column("ref", LargeBinary, primary_key=True),
    Column("sender_leaf", Integer, nullable=False),
    Column("body", LargeBinary, nullable=False),
)

attachments = Table(
    "attachments",
    metadata,
    Column("id_hash", LargeBinary, primary_key=True),
    Column("owner_device", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False, index=True),
)

device_links = Table(
    "device_links",
    metadata,
    Column("id_hash", LargeBinary, primary_key=True),
    Column("owner_device", String(64), nullable=False),
    Column("request", LargeBinary, nullable=True),
    Column("ready", LargeBinary, nullable=True),
    Column("answer", LargeBinary, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False, index=True),
)
"""Mailboxes for linking a new device (`calpico.wire.links`); payloads are sealed by the clients."""
