"""RFC 9420 §8.4 — finding the PSKs a Commit or Welcome names, and the psk_secret they give.

External PSKs come from the application (`GroupConfig.external_psks`,
psk_id → key). Resumption PSKs (§8.6) come from this group's own recent
epochs, which the group keeps for a bounded number of epochs, or from the
application (`GroupConfig.resumption_psks`, (group_id, epoch) → key) for
other groups, such as the old group of a reinitialisation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from ..crypto import CipherSuite
from ..errors import ProtocolError
from ..psk import PreSharedKeyID, PSKType, psk_secret
from ..secret import Secret

__all__ = ["ResumptionLookup", "compute_psk_secret"]

ResumptionLookup = Callable[[bytes, int], bytes | None]
"""``lookup(group_id, epoch) -> resumption_psk`` or None when unknown."""


def compute_psk_secret(
    suite: CipherSuite,
    psk_ids: Sequence[PreSharedKeyID],
    *,
    external: Mapping[bytes, bytes],
    resumption: ResumptionLookup,
) -> Secret | None:
    """The ``psk_secret`` of ``psk_ids`` in order (§8.4), None when there are none.

    Raises `ProtocolError` (§12.4.2) naming the first PSK we do not hold.
    """
    if not psk_ids:
        return None
    pairs: list[tuple[PreSharedKeyID, bytes]] = []
    for psk_id in psk_ids:
        value: bytes | None
        if psk_id.psktype == PSKType.external:
            assert psk_id.psk_id is not None
            value = external.get(psk_id.psk_id)
            what = f"external PSK {psk_id.psk_id.hex()}"
        else:
            assert psk_id.psk_group_id is not None and psk_id.psk_epoch is not None
            value = resumption(psk_id.psk_group_id, psk_id.psk_epoch)
            what = f"resumption PSK of epoch {psk_id.psk_epoch} of group {psk_id.psk_group_id.hex()}"
        if value is None:
            raise ProtocolError(f"{what} is not available", section="12.4.2")
        pairs.append((psk_id, value))
    return psk_secret(suite, pairs)
