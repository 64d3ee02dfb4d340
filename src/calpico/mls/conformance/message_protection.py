"""Checker for the message-protection vector file (RFC 9420 §6.1–§6.3).

Each case is a two-member group (the sender is leaf 1) in one epoch. For the
proposal, the commit and the application data: the given PublicMessage (none
for application data) and PrivateMessage must unprotect to the raw value, and
freshly protected ones must unprotect again; protecting application data as a
PublicMessage must fail.
"""

from __future__ import annotations

from ..authentication import VerifiedContent, authenticate, framed_content_tbs, sign_framed_content
from ..codec import Struct
from ..commit import Commit
from ..crypto import SUITES, CipherSuite, get_suite
from ..errors import UsageError
from ..framing import (
    AuthenticatedContent,
    FramedContent,
    FramedContentAuthData,
    Sender,
    SenderType,
    WireFormat,
)
from ..group_context import GroupContext, ProtocolVersion
from ..messages import MLSMessage
from ..private_message import PrivateMessage
from ..private_protection import protect_private, unprotect_private
from ..proposals import Proposal
from ..public_protection import protect_public, unprotect_public
from ..secret_tree import SecretTree
from . import Case, Mismatch, Skip, checker, expect_equal, unhex

SENDER = 1


@checker("message-protection")
def check_message_protection(case: Case) -> None:
    suite_id = case["cipher_suite"]
    if suite_id not in SUITES:
        raise Skip(f"cipher suite {suite_id} is not supported")
    vector = _Vector(get_suite(suite_id), case)
    vector.check("proposal", Proposal.decode(unhex(case["proposal"])))
    vector.check("commit", Commit.decode(unhex(case["commit"])))
    vector.check("application", unhex(case["application"]))


class _Vector:
    def __init__(self, suite: CipherSuite, case: Case) -> None:
        self.suite = suite
        self.case = case
        self.context = GroupContext(
            ProtocolVersion.mls10,
            suite.suite_id,
            unhex(case["group_id"]),
            case["epoch"],
            unhex(case["tree_hash"]),
            unhex(case["confirmed_transcript_hash"]),
            (),
        )
        self.signature_pub = unhex(case["signature_pub"])
        self.signature_priv = unhex(case["signature_priv"])
        if suite.signature_scheme.startswith("ecdsa"):
            # An ECDSA key is a fixed-length big-endian scalar, but the cs5 case's key lost its
            # leading zero byte: restore it (the scalar is half of the uncompressed point's X||Y).
            self.signature_priv = self.signature_priv.rjust((len(self.signature_pub) - 1) // 2, b"\0")
        self.membership_key = unhex(case["membership_key"])
        self.sender_data_secret = unhex(case["sender_data_secret"])

    def tree(self) -> SecretTree:
        return SecretTree(self.suite, unhex(self.case["encryption_secret"]), 2)

    def signature_key(self, sender: Sender, content: FramedContent) -> bytes:
        if sender.sender_type != SenderType.member or sender.leaf_index != SENDER:
            raise Mismatch(f"unexpected sender {sender}")
        return self.signature_pub

    def leaf_key(self, leaf_index: int) -> bytes | None:
        return self.signature_pub if leaf_index == SENDER else None

    def check(self, name: str, body: bytes | Proposal | Commit) -> None:
        content = FramedContent.of(self.context.group_id, self.context.epoch, Sender.member(SENDER), body)
        self._check_public(name, body, content)
        self._check_private(name, body, content)

    def _check_public(self, name: str, body: bytes | Proposal | Commit, content: FramedContent) -> None:
        """The vector's PublicMessage (none for application data), then a fresh one."""
        suite, key = self.suite, self.membership_key
        if f"{name}_pub" not in self.case:
            fresh = self._sign(WireFormat.mls_public_message, content, None)
            try:
                protect_public(suite, fresh, context=self.context, membership_key=key)
            except UsageError:
                return
            raise Mismatch(f"protecting {name} as a PublicMessage succeeded")
        given = MLSMessage.decode(unhex(self.case[f"{name}_pub"])).public_message
        if given is None:
            raise Mismatch(f"{name}_pub is not a PublicMessage")
        verified = unprotect_public(
            suite, given, context=self.context, membership_key=key, signature_key=self.signature_key
        )
        _expect_body(f"{name}_pub", verified.body, body)
        fresh = self._sign(WireFormat.mls_public_message, content, given.auth.confirmation_tag)
        message = protect_public(suite, fresh, context=self.context, membership_key=key)
        again = MLSMessage.decode(MLSMessage.of(message).encode()).public_message
        if again is None:
            raise Mismatch("a fresh PublicMessage decoded as something else")
        verified = unprotect_public(
            suite, again, context=self.context, membership_key=key, signature_key=self.signature_key
        )
        _expect_body(f"fresh {name} PublicMessage", verified.body, body)

    def _check_private(self, name: str, body: bytes | Proposal | Commit, content: FramedContent) -> None:
        """The vector's PrivateMessage, then a fresh one (each receiver with a tree of its own)."""
        given = MLSMessage.decode(unhex(self.case[f"{name}_priv"])).private_message
        if given is None:
            raise Mismatch(f"{name}_priv is not a PrivateMessage")
        verified = self._unprotect_private(given, self.tree())
        _expect_body(f"{name}_priv", verified.body, body)
        fresh = self._sign(WireFormat.mls_private_message, content, verified.auth.confirmation_tag)
        message = protect_private(
            self.suite, fresh, sender_data_secret=self.sender_data_secret, secret_tree=self.tree()
        )
        again = MLSMessage.decode(MLSMessage.of(message).encode()).private_message
        if again is None:
            raise Mismatch("a fresh PrivateMessage decoded as something else")
        verified = self._unprotect_private(again, self.tree())
        _expect_body(f"fresh {name} PrivateMessage", verified.body, body)
        expect_equal(f"fresh {name} PrivateMessage auth", verified.auth, fresh.auth)

    def _unprotect_private(self, message: PrivateMessage, tree: SecretTree) -> VerifiedContent:
        return unprotect_private(
            self.suite,
            message,
            context=self.context,
            sender_data_secret=self.sender_data_secret,
            secret_tree=tree,
            leaf_signature_key=self.leaf_key,
        )

    def _sign(self, wire_format: WireFormat, content: FramedContent, tag: bytes | None) -> AuthenticatedContent:
        if tag is None:
            return authenticate(self.suite, self.signature_priv, wire_format, content, self.context)
        tbs = framed_content_tbs(wire_format, content, SenderType.member, self.context)
        signature = sign_framed_content(self.suite, self.signature_priv, tbs)
        return AuthenticatedContent(wire_format, content, FramedContentAuthData(signature, tag))


def _expect_body(what: str, got: bytes | Struct, want: bytes | Struct) -> None:
    expect_equal(f"{what} body", got, want)
