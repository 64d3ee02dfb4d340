"""Checker for the ``messages`` vector file: every wire struct decodes and re-encodes exactly.

Each case holds one encoding of each kind of object (README of the vectors,
"Messages"). The ``*_proposal`` fields are bare proposal bodies (an ``Add``,
not a ``Proposal``), ``ratchet_tree`` is ``optional<Node> ratchet_tree<V>``,
and the ``mls_*``, ``public_message_*`` and ``private_message`` fields are
MLSMessage-wrapped, with the wire format (and content type) their name says.
"""

from __future__ import annotations

from ..codec import Struct
from ..commit import Commit
from ..framing import ContentType, WireFormat
from ..messages import MLSMessage
from ..proposals import (
    Add,
    ExternalInit,
    GroupContextExtensions,
    PreSharedKey,
    ReInit,
    Remove,
    Update,
)
from ..tree.nodes import RatchetTree
from ..welcome import GroupSecrets
from . import Case, Mismatch, checker, expect_equal, unhex

# Vector field -> the struct it holds.
STRUCT_OF: dict[str, type[Struct]] = {
    "mls_welcome": MLSMessage,
    "mls_group_info": MLSMessage,
    "mls_key_package": MLSMessage,
    "ratchet_tree": RatchetTree,
    "group_secrets": GroupSecrets,
    "add_proposal": Add,
    "update_proposal": Update,
    "remove_proposal": Remove,
    "pre_shared_key_proposal": PreSharedKey,
    "re_init_proposal": ReInit,
    "external_init_proposal": ExternalInit,
    "group_context_extensions_proposal": GroupContextExtensions,
    "commit": Commit,
    "public_message_application": MLSMessage,
    "public_message_proposal": MLSMessage,
    "public_message_commit": MLSMessage,
    "private_message": MLSMessage,
}

# MLSMessage fields -> (wire format, content type of a PublicMessage or None).
ENVELOPE_OF: dict[str, tuple[WireFormat, ContentType | None]] = {
    "mls_welcome": (WireFormat.mls_welcome, None),
    "mls_group_info": (WireFormat.mls_group_info, None),
    "mls_key_package": (WireFormat.mls_key_package, None),
    "public_message_application": (WireFormat.mls_public_message, ContentType.application),
    "public_message_proposal": (WireFormat.mls_public_message, ContentType.proposal),
    "public_message_commit": (WireFormat.mls_public_message, ContentType.commit),
    "private_message": (WireFormat.mls_private_message, None),
}


@checker("messages")
def check_messages(case: Case) -> None:
    missing = sorted(set(STRUCT_OF) - case.keys())
    if missing:
        raise Mismatch(f"case lacks fields {', '.join(missing)}")
    for field, struct in STRUCT_OF.items():
        data = unhex(case[field])
        decoded = struct.decode(data)
        expect_equal(f"{field} re-encoded", decoded.encode(), data)
        if isinstance(decoded, MLSMessage):
            wire_format, content_type = ENVELOPE_OF[field]
            expect_equal(f"{field} wire_format", decoded.wire_format, wire_format)
            if content_type is not None and decoded.public_message is not None:
                expect_equal(f"{field} content_type", decoded.public_message.content.content_type, content_type)
