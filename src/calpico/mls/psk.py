"""RFC 9420 §8.4 — pre-shared key identifiers.

A PSK is named by a `PreSharedKeyID`: either an application-provisioned
``external`` id, or a ``resumption`` PSK taken from an earlier epoch of some
group. Each injection carries a fresh ``psk_nonce`` of KDF.Nh bytes, so the
same PSK never feeds the key schedule twice with the same input. `PSKLabel`
is the context under which each PSK is expanded into ``psk_secret``, which
`psk_secret` computes for the key schedule (§8).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

from .codec import U16, U64, Enum8, Struct, VLBytes, When, wire
from .crypto import CipherSuite
from .errors import UsageError
from .secret import Secret

__all__ = ["PSKLabel", "PSKType", "PreSharedKeyID", "ResumptionPSKUsage", "psk_secret"]


class PSKType(enum.IntEnum):
    """``enum { reserved(0), external(1), resumption(2), (255) } PSKType;`` (§8.4)"""

    external = 1
    resumption = 2


class ResumptionPSKUsage(enum.IntEnum):
    """What a resumption PSK is for (§8.4)::

    enum {
      reserved(0),
      application(1),
      reinit(2),
      branch(3),
      (255)
    } ResumptionPSKUsage;
    """

    application = 1
    reinit = 2
    branch = 3


@wire
@dataclass(frozen=True, slots=True)
class PreSharedKeyID(Struct):
    """The identity of one PSK injection (§8.4)::

    struct {
      PSKType psktype;
      select (PreSharedKeyID.psktype) {
        case external:
          opaque psk_id<V>;

        case resumption:
          ResumptionPSKUsage usage;
          opaque psk_group_id<V>;
          uint64 psk_epoch;
      };
      opaque psk_nonce<V>;
    } PreSharedKeyID;

    Build one with `PreSharedKeyID.external` or `PreSharedKeyID.resumption`.
    """

    psktype: Enum8[PSKType]
    psk_id: Annotated[VLBytes | None, When("psktype", PSKType.external)]
    usage: Annotated[Enum8[ResumptionPSKUsage] | None, When("psktype", PSKType.resumption)]
    psk_group_id: Annotated[VLBytes | None, When("psktype", PSKType.resumption)]
    psk_epoch: Annotated[U64 | None, When("psktype", PSKType.resumption)]
    psk_nonce: VLBytes

    @classmethod
    def external(cls, psk_id: bytes, psk_nonce: bytes) -> PreSharedKeyID:
        """An application-provisioned PSK named ``psk_id``."""
        return cls(PSKType.external, psk_id, None, None, None, psk_nonce)

    @classmethod
    def resumption(
        cls, usage: ResumptionPSKUsage, psk_group_id: bytes, psk_epoch: int, psk_nonce: bytes
    ) -> PreSharedKeyID:
        """The resumption PSK of group ``psk_group_id`` at ``psk_epoch``."""
        return cls(PSKType.resumption, None, usage, psk_group_id, psk_epoch, psk_nonce)


@wire
@dataclass(frozen=True, slots=True)
class PSKLabel(Struct):
    """The context for expanding the ``index``-th of ``count`` PSKs (§8.4)::

    struct {
        PreSharedKeyID id;
        uint16 index;
        uint16 count;
    } PSKLabel;
    """

    id: PreSharedKeyID
    index: U16
    count: U16


def psk_secret(suite: CipherSuite, psks: Sequence[tuple[PreSharedKeyID, bytes]]) -> Secret:
    """The ``psk_secret`` input of the key schedule from ``(id, psk)`` pairs, in Commit order (§8.4)::

        psk_extracted_[i] = KDF.Extract(0, psk_[i])
        psk_input_[i] = ExpandWithLabel(psk_extracted_[i], "derived psk", PSKLabel, KDF.Nh)
        psk_secret_[0] = 0
        psk_secret_[i] = KDF.Extract(psk_input_[i-1], psk_secret_[i-1])

    No PSKs gives the all-zero Nh bytes. Raises `UsageError` for more than
    65535 PSKs (PSKLabel counts them in a uint16).
    """
    count = len(psks)
    if count > 0xFFFF:
        raise UsageError(f"{count} PSKs do not fit PSKLabel.count", section="8.4")
    nh = suite.nh
    zero = bytes(nh)
    secret = Secret(zero)
    for index, (psk_id, psk) in enumerate(psks):
        extracted = suite.extract(zero, psk)
        psk_input = suite.expand_with_label(extracted, b"derived psk", PSKLabel(psk_id, index, count).encode(), nh)
        secret = suite.extract(psk_input, secret)
    return secret
