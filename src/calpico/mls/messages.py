"""RFC 9420 §6 — MLSMessage, the envelope of everything MLS sends.

An `MLSMessage` is a protocol version, a wire format, and one of PublicMessage,
PrivateMessage, Welcome, GroupInfo or KeyPackage. It sits in its own module
because it ties the framing (§6) to the Welcome and KeyPackage structs
(§10, §12.4.3), which do not depend on framing::

    wire = MLSMessage.of(key_package).encode()
    MLSMessage.decode(wire).key_package == key_package

A KeyPackage's version must equal the envelope's (§10); that is a
validation rule for whoever processes the package, not a decode rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from .codec import Enum16, Struct, When, wire
from .errors import UsageError
from .framing import PublicMessage, WireFormat
from .group_context import ProtocolVersion
from .key_package import KeyPackage
from .private_message import PrivateMessage
from .welcome import GroupInfo, Welcome

__all__ = ["MLSMessage", "MLSMessageBody"]

MLSMessageBody = PublicMessage | PrivateMessage | Welcome | GroupInfo | KeyPackage


@wire
@dataclass(frozen=True, slots=True)
class MLSMessage(Struct):
    """The MLS message envelope (§6)::

    struct {
        ProtocolVersion version = mls10;
        WireFormat wire_format;
        select (MLSMessage.wire_format) {
            case mls_public_message:
                PublicMessage public_message;
            case mls_private_message:
                PrivateMessage private_message;
            case mls_welcome:
                Welcome welcome;
            case mls_group_info:
                GroupInfo group_info;
            case mls_key_package:
                KeyPackage key_package;
        };
    } MLSMessage;

    Build one with `MLSMessage.of`; `body` gives the selected field back.
    """

    version: Enum16[ProtocolVersion]
    wire_format: Enum16[WireFormat]
    public_message: Annotated[PublicMessage | None, When("wire_format", WireFormat.mls_public_message)] = None
    private_message: Annotated[PrivateMessage | None, When("wire_format", WireFormat.mls_private_message)] = None
    welcome: Annotated[Welcome | None, When("wire_format", WireFormat.mls_welcome)] = None
    group_info: Annotated[GroupInfo | None, When("wire_format", WireFormat.mls_group_info)] = None
    key_package: Annotated[KeyPackage | None, When("wire_format", WireFormat.mls_key_package)] = None

    @classmethod
    def of(cls, body: MLSMessageBody) -> MLSMessage:
        """Wrap ``body`` in an mls10 envelope of the matching wire format."""
        v = ProtocolVersion.mls10
        match body:
            case PublicMessage():
                return cls(v, WireFormat.mls_public_message, public_message=body)
            case PrivateMessage():
                return cls(v, WireFormat.mls_private_message, private_message=body)
            case Welcome():
                return cls(v, WireFormat.mls_welcome, welcome=body)
            case GroupInfo():
                return cls(v, WireFormat.mls_group_info, group_info=body)
            case KeyPackage():
                return cls(v, WireFormat.mls_key_package, key_package=body)
        raise UsageError(f"an MLSMessage cannot carry a {type(body).__name__}")

    @property
    def body(self) -> MLSMessageBody:
        """The message selected by ``wire_format``."""
        body: MLSMessageBody | None = getattr(self, self.wire_format.name.removeprefix("mls_"))
        if body is None:
            raise UsageError(f"MLSMessage of format {self.wire_format.name} has no body")
        return body
