"""The key directory: KeyPackages (batch + last resort), claims, blocking, contacts, contact policy.

A claim hands out one KeyPackage per active device of the target user: an
unclaimed batch KeyPackage if the device has one (it is marked claimed and
never handed out again), else its last-resort KeyPackage (which stays).
A plain claim covers the user's *person* devices only: an assistant device
(`DeviceKind.ASSISTANT`) is handed out only to a claim naming it
(``device_id``), so adding a person to a conversation never brings their
assistant along. Claims are refused when the target blocked the requester, or accepts only
contacts and the requester is not one, and are rate limited per requester.

An assistant device acts for its owner only inside the conversations it
was added to: it may not claim anyone's KeyPackages (that is how
conversations are started and people added, which only a person's device
does), nor change its owner's blocks, contacts or contact policy (reading
them is fine: its client follows them). So a compromised assistant host
can neither reach out to new people in its owner's name nor open its
owner's account to them.
A claimed KeyPackage's row stays (without being handed out) until the
retention sweep, so a later Add or Welcome naming its KeyPackageRef still
resolves to its device.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import and_, delete, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from calpico.wire.accounts import DeviceKind
from calpico.wire.common import ErrorCode
from calpico.wire.directory import ClaimedKeyPackage, ContactPolicy

from ..config import ServerConfig
from ..db.models import blocks, contacts, devices, key_packages, memberships, users
from ..errors import BadRequest, Blocked, ContactsOnly, Forbidden, NotFound
from .accounts import AccountService
from .auth import Principal
from .handshake import inspect_key_package
from .ratelimit import RateLimiter

__all__ = ["DirectoryService", "is_blocked", "may_contact"]


async def _user_id(conn: AsyncConnection, username: str) -> int:
    row = (await conn.execute(select(users.c.id).where(users.c.username == username))).first()
    if row is None:
        raise NotFound("no such user")
    return int(row.id)


async def is_blocked(conn: AsyncConnection, target_user: int, requester_user: int) -> bool:
    """Whether ``target_user`` blocked ``requester_user``."""
    row = await conn.execute(
        select(blocks.c.user_id).where(blocks.c.user_id == target_user, blocks.c.blocked_user_id == requester_user)
    )
    return row.first() is not None


async def may_contact(conn: AsyncConnection, target_user: int, requester_user: int) -> None:
    """Raise `Blocked` or `ContactsOnly` unless ``requester_user`` may reach ``target_user``.

    Contacts of a user are those on their contact list and those they already
    share a conversation with.
    """
    if target_user == requester_user:
        return
    if await is_blocked(conn, target_user, requester_user):
        raise Blocked("this user does not accept requests from you")
    policy = (await conn.execute(select(users.c.contact_policy).where(users.c.id == target_user))).scalar_one()
    if policy != ContactPolicy.CONTACTS:
        return
    listed = await conn.execute(
        select(contacts.c.user_id).where(
            contacts.c.user_id == target_user, contacts.c.contact_user_id == requester_user
        )
    )
    if listed.first() is not None:
        return
    mine = memberships.alias("mine")
    theirs = memberships.alias("theirs")
    mine_dev = devices.alias("mine_dev")
    theirs_dev = devices.alias("theirs_dev")
    shared = await conn.execute(
        select(mine.c.group_id)
        .join(mine_dev, mine_dev.c.id == mine.c.device_id)
        .join(theirs, and_(theirs.c.group_id == mine.c.group_id, theirs.c.left_seq.is_(None)))
        .join(theirs_dev, theirs_dev.c.id == theirs.c.device_id)
        .where(mine_dev.c.user_id == requester_user, mine.c.left_seq.is_(None), theirs_dev.c.user_id == target_user)
        .limit(1)
    )
    if shared.first() is None:
        raise ContactsOnly("this user accepts conversations only from their contacts")


async def _person_only(conn: AsyncConnection, principal: Principal, what: str) -> None:
    """Raise `Forbidden` if the caller is an assistant device (see the module docstring)."""
    if await AccountService.kind_of(conn, principal.device_id) is not DeviceKind.PERSON:
        raise Forbidden(f"an assistant device cannot {what}")


class DirectoryService:
    def __init__(self, engine: AsyncEngine, config: ServerConfig, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._config = config
        self._clock = clock
        self._claims = RateLimiter(config.claim_rate, config.claim_burst)

    async def upload(
        self, principal: Principal, batch: list[bytes], last_resort: bytes | None
    ) -> tuple[list[bytes], bytes | None, int]:
        """Store KeyPackages of the caller's device; return their refs and how many are unclaimed.

        Each KeyPackage must carry the device's own signature key. Raises
        `MalformedMessage` (does not parse) or `BadRequest` (someone else's
        key, a duplicate).
        """
        now = self._clock()
        async with self._engine.begin() as conn:
            dev = (
                await conn.execute(select(devices.c.signature_key).where(devices.c.id == principal.device_id))
            ).first()
            assert dev is not None
            refs: list[bytes] = []
            rows = []
            for data, is_last in [(b, False) for b in batch] + ([(last_resort, True)] if last_resort else []):
                info = inspect_key_package(data)
                if info.signature_key != dev.signature_key:
                    raise BadRequest("a KeyPackage must carry this device's signature key")
                rows.append(
                    {
                        "ref": info.ref,
                        "device_id": principal.device_id,
                        "cipher_suite": info.cipher_suite,
                        "body": info.body,
                        "last_resort": is_last,
                        "created_at": now,
                        "claimed_at": None,
                    }
                )
                refs.append(info.ref)
            if len({r["ref"] for r in rows}) != len(rows):
                raise BadRequest("the same KeyPackage was uploaded twice")
            if last_resort:
                # A new last-resort KeyPackage retires the old one (its ref still resolves).
                await conn.execute(
                    update(key_packages)
                    .where(
                        key_packages.c.device_id == principal.device_id,
                        key_packages.c.last_resort.is_(True),
                        key_packages.c.claimed_at.is_(None),
                    )
                    .values(claimed_at=now)
                )
            if rows:
                try:
                    async with conn.begin_nested():
                        await conn.execute(insert(key_packages), rows)
                except IntegrityError:
                    raise BadRequest("a KeyPackage with this reference was uploaded before") from None
            available = await self._available(conn, principal.device_id)
        last_ref = refs.pop() if last_resort else None
        return refs, last_ref, available

    async def _available(self, conn: AsyncConnection, device_id: str) -> int:
        return int(
            (
                await conn.execute(
                    select(func.count())
                    .select_from(key_packages)
                    .where(
                        key_packages.c.device_id == device_id,
                        key_packages.c.last_resort.is_(False),
                        key_packages.c.claimed_at.is_(None),
                    )
                )
            ).scalar_one()
        )

    async def count(self, principal: Principal) -> tuple[int, bool]:
        async with self._engine.connect() as conn:
            available = await self._available(conn, principal.device_id)
            last = await conn.execute(
                select(key_packages.c.ref).where(
                    key_packages.c.device_id == principal.device_id,
                    key_packages.c.last_resort.is_(True),
                    key_packages.c.claimed_at.is_(None),
                )
            )
            return available, last.first() is not None

    async def claim(self, principal: Principal, username: str, device_id: str | None = None) -> list[ClaimedKeyPackage]:
        """One KeyPackage per active person device of ``username``, or of the one device named.

        See the module docstring. Raises `NotFound` (no such user or device, no KeyPackages left).
        """
        self._claims.take(principal.user_id)
        now = self._clock()
        async with self._engine.begin() as conn:
            await _person_only(conn, principal, "claim KeyPackages: only its owner's own devices add people")
            target = await _user_id(conn, username)
            await may_contact(conn, target, principal.user_id)
            which = devices.c.id == device_id if device_id is not None else devices.c.kind == DeviceKind.PERSON.value
            device_ids = (
                (
                    await conn.execute(
                        select(devices.c.id)
                        .where(devices.c.user_id == target, devices.c.revoked_at.is_(None), which)
                        .order_by(devices.c.created_at, devices.c.id)
                    )
                )
                .scalars()
                .all()
            )
            claimed: list[ClaimedKeyPackage] = []
            for each in device_ids:
                if each == principal.device_id:
                    continue
                kp = await self._claim_one(conn, each, now)
                if kp is not None:
                    claimed.append(kp)
        if not claimed:
            raise NotFound("this user has no KeyPackages available", code=ErrorCode.NO_KEY_PACKAGES)
        return claimed

    async def _claim_one(self, conn: AsyncConnection, device_id: str, now: float) -> ClaimedKeyPackage | None:
        for _attempt in range(5):
            row = (
                await conn.execute(
                    select(key_packages.c.ref, key_packages.c.body)
                    .where(
                        key_packages.c.device_id == device_id,
                        key_packages.c.last_resort.is_(False),
                        key_packages.c.claimed_at.is_(None),
                    )
                    .order_by(key_packages.c.created_at)
                    .limit(1)
                )
            ).first()
            if row is None:
                break
            # Conditional update: under concurrency only one claimer gets each KeyPackage.
            taken = await conn.execute(
                update(key_packages)
                .where(key_packages.c.ref == row.ref, key_packages.c.claimed_at.is_(None))
                .values(claimed_at=now)
            )
            if taken.rowcount == 1:
                return ClaimedKeyPackage(
                    device_id=device_id, key_package=row.body, key_package_ref=row.ref, last_resort=False
                )
        last = (
            await conn.execute(
                select(key_packages.c.ref, key_packages.c.body).where(
                    key_packages.c.device_id == device_id,
                    key_packages.c.last_resort.is_(True),
                    key_packages.c.claimed_at.is_(None),
                )
            )
        ).first()
        if last is None:
            return None
        return ClaimedKeyPackage(device_id=device_id, key_package=last.body, key_package_ref=last.ref, last_resort=True)

    async def set_block(self, principal: Principal, username: str, blocked: bool) -> None:
        async with self._engine.begin() as conn:
            await _person_only(conn, principal, "change its owner's blocks")
            other = await _user_id(conn, username)
            if other == principal.user_id:
                raise Forbidden("you cannot block yourself")
            cond = and_(blocks.c.user_id == principal.user_id, blocks.c.blocked_user_id == other)
            if blocked:
                present = await conn.execute(select(exists().where(cond)))
                if not present.scalar():
                    await conn.execute(insert(blocks).values(user_id=principal.user_id, blocked_user_id=other))
            else:
                await conn.execute(delete(blocks).where(cond))

    async def list_blocks(self, principal: Principal) -> list[str]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(users.c.username)
                .join(blocks, blocks.c.blocked_user_id == users.c.id)
                .where(blocks.c.user_id == principal.user_id)
                .order_by(users.c.username)
            )
            return list(rows.scalars())

    async def set_contact(self, principal: Principal, username: str, present: bool) -> None:
        async with self._engine.begin() as conn:
            await _person_only(conn, principal, "change its owner's contacts")
            other = await _user_id(conn, username)
            cond = and_(contacts.c.user_id == principal.user_id, contacts.c.contact_user_id == other)
            if present:
                if not (await conn.execute(select(exists().where(cond)))).scalar():
                    await conn.execute(insert(contacts).values(user_id=principal.user_id, contact_user_id=other))
            else:
                await conn.execute(delete(contacts).where(cond))

    async def list_contacts(self, principal: Principal) -> list[str]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(users.c.username)
                .join(contacts, contacts.c.contact_user_id == users.c.id)
                .where(contacts.c.user_id == principal.user_id)
                .order_by(users.c.username)
            )
            return list(rows.scalars())

    async def set_policy(self, principal: Principal, policy: ContactPolicy) -> None:
        async with self._engine.begin() as conn:
            await _person_only(conn, principal, "change its owner's contact policy")
            await conn.execute(update(users).where(users.c.id == principal.user_id).values(contact_policy=policy.value))

    async def get_policy(self, principal: Principal) -> ContactPolicy:
        async with self._engine.connect() as conn:
            value = (
                await conn.execute(select(users.c.contact_policy).where(users.c.id == principal.user_id))
            ).scalar_one()
            return ContactPolicy(value)
