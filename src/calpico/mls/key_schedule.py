"""RFC 9420 §8 — Key schedule (with §8.3 external init, §8.5 exporter, §12.4.3.1 Welcome key).

Theory of operation
-------------------
Each epoch runs the schedule once::

    init_secret[n-1] ─┐
    commit_secret ──> Extract ─> ExpandWithLabel(., "joiner", GroupContext[n]) = joiner_secret
    psk_secret ─────> Extract(salt=joiner_secret) ─┬─> DeriveSecret(., "welcome") = welcome_secret
                                                   └─> ExpandWithLabel(., "epoch", GroupContext[n]) = epoch_secret
    epoch_secret ─> DeriveSecret(., <label>) for every secret of §8's table, "init" last

`derive_epoch` runs it from an init secret (members processing a Commit, the
group's creator, an external joiner after `send_external_init`);
`derive_epoch_from_joiner` runs it from a joiner_secret (a new member reading
a Welcome, who first needs `derive_welcome_secret` and `welcome_key_nonce` to
open the GroupInfo that holds the GroupContext).

Both return an `EpochKeySchedule`: the short-lived secrets a caller uses once
(joiner_secret and welcome_secret for Welcome messages, encryption_secret to
seed the §9 secret tree) and the `EpochSecrets` the group keeps for the whole
epoch. The epoch_secret itself is never returned: everything that depends on it
has been derived (§9.2 deletion schedule).

`EpochSecrets.to_bytes` is the persistent form (format 1)::

    struct {
        uint8 format = 1;
        uint16 cipher_suite;
        opaque sender_data_secret<V>;   opaque exporter_secret<V>;
        opaque external_secret<V>;      opaque confirmation_key<V>;
        opaque membership_key<V>;       opaque resumption_psk<V>;
        opaque epoch_authenticator<V>;  opaque init_secret<V>;
    } EpochSecretsRecord;
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .codec import U8, U16, Struct, VLBytes, wire
from .crypto import CipherSuite, KeyPair, get_suite
from .errors import DecodeError, UsageError
from .group_context import GroupContext
from .secret import Secret

__all__ = [
    "EXTERNAL_INIT_EXPORT_LABEL",
    "EpochKeySchedule",
    "EpochSecrets",
    "derive_epoch",
    "derive_epoch_from_joiner",
    "derive_joiner_secret",
    "derive_welcome_secret",
    "mls_exporter",
    "receive_external_init",
    "send_external_init",
    "welcome_key_nonce",
]

EXTERNAL_INIT_EXPORT_LABEL = b"MLS 1.0 external init secret"
"""The HPKE exporter context of §8.3 (used as given: it already carries the "MLS 1.0 " prefix)."""

# §8, "Epoch-Derived Secrets": the label of each secret, in the order they are derived and stored.
_EPOCH_LABELS: tuple[tuple[str, bytes], ...] = (
    ("sender_data_secret", b"sender data"),
    ("exporter_secret", b"exporter"),
    ("external_secret", b"external"),
    ("confirmation_key", b"confirm"),
    ("membership_key", b"membership"),
    ("resumption_psk", b"resumption"),
    ("epoch_authenticator", b"authentication"),
    ("init_secret", b"init"),
)
_RECORD_FORMAT = 1


def _context_bytes(group_context: GroupContext | bytes) -> bytes:
    return group_context if isinstance(group_context, bytes) else group_context.encode()


@dataclass(frozen=True, slots=True)
class EpochSecrets:
    """The secrets of one epoch that a member keeps until the epoch ends (§8).

    ``init_secret`` is the *next* epoch's init secret (``DeriveSecret(epoch_secret,
    "init")``); the encryption secret is not here, because it seeds the secret
    tree and is then deleted.
    """

    cipher_suite: int
    sender_data_secret: Secret
    exporter_secret: Secret
    external_secret: Secret
    confirmation_key: Secret
    membership_key: Secret
    resumption_psk: Secret
    epoch_authenticator: Secret
    init_secret: Secret

    @property
    def suite(self) -> CipherSuite:
        """The cipher suite these secrets belong to."""
        return get_suite(self.cipher_suite)

    def exporter(self, label: bytes, context: bytes, length: int) -> Secret:
        """MLS-Exporter(Label, Context, Length) of this epoch (§8.5)."""
        return mls_exporter(self.suite, self.exporter_secret, label, context, length)

    def external_key_pair(self) -> KeyPair:
        """``KEM.DeriveKeyPair(external_secret)``: the group's external HPKE key pair (§8)."""
        return self.suite.derive_key_pair(self.external_secret)

    @property
    def external_pub(self) -> bytes:
        """The public key published in the ``external_pub`` GroupInfo extension (§8, §12.4.3.2)."""
        return self.external_key_pair().public_key

    def to_bytes(self) -> bytes:
        """The persistent form (see the module docstring)."""
        return _EpochSecretsRecord(
            _RECORD_FORMAT, self.cipher_suite, *(getattr(self, n) for n, _ in _EPOCH_LABELS)
        ).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> EpochSecrets:
        """Load `to_bytes` output.

        Raises `DecodeError` for another format or malformed data, `UnsupportedError` for an unknown suite.
        """
        record = _EpochSecretsRecord.decode(data)
        if record.format != _RECORD_FORMAT:
            raise DecodeError(f"EpochSecrets: unknown record format {record.format}")
        nh = get_suite(record.cipher_suite).nh
        values = [getattr(record, name) for name, _ in _EPOCH_LABELS]
        if any(len(value) != nh for value in values):
            raise DecodeError(f"EpochSecrets: every secret of cipher suite {record.cipher_suite} is {nh} bytes")
        return cls(record.cipher_suite, *(Secret(value) for value in values))


@wire
@dataclass(frozen=True, slots=True)
class _EpochSecretsRecord(Struct):
    format: U8
    cipher_suite: U16
    sender_data_secret: VLBytes
    exporter_secret: VLBytes
    external_secret: VLBytes
    confirmation_key: VLBytes
    membership_key: VLBytes
    resumption_psk: VLBytes
    epoch_authenticator: VLBytes
    init_secret: VLBytes


@dataclass(frozen=True, slots=True)
class EpochKeySchedule:
    """One run of the key schedule (§8).

    ``joiner_secret`` and ``welcome_secret`` serve the Welcome for this epoch
    (§12.4.3.1), ``encryption_secret`` the secret tree (§9); drop them once
    used. ``secrets`` is what the group keeps.
    """

    joiner_secret: Secret
    welcome_secret: Secret
    encryption_secret: Secret
    secrets: EpochSecrets

    def welcome_key_nonce(self, suite: CipherSuite) -> tuple[Secret, Secret]:
        """The AEAD key and nonce of this epoch's ``encrypted_group_info`` (§12.4.3.1)."""
        return welcome_key_nonce(suite, self.welcome_secret)


def derive_joiner_secret(
    suite: CipherSuite, init_secret: bytes, commit_secret: bytes, group_context: GroupContext | bytes
) -> Secret:
    """``ExpandWithLabel(Extract(init_secret, commit_secret), "joiner", GroupContext, Nh)`` (§8)."""
    prk = suite.extract(init_secret, commit_secret)
    return suite.expand_with_label(prk, b"joiner", _context_bytes(group_context), suite.nh)


def _member_secret(suite: CipherSuite, joiner_secret: bytes, psk_secret: bytes | None) -> Secret:
    # §8: psk_secret (or 0) --> KDF.Extract with the joiner_secret as salt.
    return suite.extract(joiner_secret, bytes(suite.nh) if psk_secret is None else psk_secret)


def derive_welcome_secret(suite: CipherSuite, joiner_secret: bytes, psk_secret: bytes | None = None) -> Secret:
    """``DeriveSecret(Extract(joiner_secret, psk_secret), "welcome")`` (§8); no PSK means all-zero."""
    return suite.derive_secret(_member_secret(suite, joiner_secret, psk_secret), b"welcome")


def welcome_key_nonce(suite: CipherSuite, welcome_secret: bytes) -> tuple[Secret, Secret]:
    """``welcome_key``, ``welcome_nonce``: ExpandWithLabel(welcome_secret, "key"/"nonce", "", Nk/Nn) (§12.4.3.1)."""
    key = suite.expand_with_label(welcome_secret, b"key", b"", suite.nk)
    nonce = suite.expand_with_label(welcome_secret, b"nonce", b"", suite.nn)
    return key, nonce


def derive_epoch_from_joiner(
    suite: CipherSuite,
    joiner_secret: bytes,
    group_context: GroupContext | bytes,
    psk_secret: bytes | None = None,
) -> EpochKeySchedule:
    """Run the schedule from a joiner_secret: the Welcome path (§8, §12.4.3.1).

    ``psk_secret`` is the §8.4 value of the epoch's PSKs, None for none (all-zero).
    Raises `UsageError` if a secret has the wrong length for the suite.
    """
    nh = suite.nh
    if len(joiner_secret) != nh or (psk_secret is not None and len(psk_secret) != nh):
        raise UsageError(f"key schedule: joiner_secret and psk_secret are {nh} bytes for this suite", section="8")
    member_secret = _member_secret(suite, joiner_secret, psk_secret)
    welcome_secret = suite.derive_secret(member_secret, b"welcome")
    epoch_secret = suite.expand_with_label(member_secret, b"epoch", _context_bytes(group_context), nh)
    derive: Callable[[bytes, bytes], Secret] = suite.derive_secret
    secrets = EpochSecrets(suite.suite_id, *(derive(epoch_secret, label) for _, label in _EPOCH_LABELS))
    return EpochKeySchedule(Secret(joiner_secret), welcome_secret, derive(epoch_secret, b"encryption"), secrets)


def derive_epoch(
    suite: CipherSuite,
    init_secret: bytes,
    commit_secret: bytes,
    group_context: GroupContext | bytes,
    psk_secret: bytes | None = None,
) -> EpochKeySchedule:
    """Run the schedule from the previous epoch's init_secret (§8).

    ``commit_secret`` is the all-zero Nh bytes for a commit without a path
    (§12.4.2); ``psk_secret`` None means no PSKs. The group's first epoch
    starts from a random init_secret (§11). Raises `UsageError` for secrets of
    the wrong length.
    """
    nh = suite.nh
    if len(commit_secret) != nh or len(init_secret) != nh:
        raise UsageError(f"key schedule: init_secret and commit_secret are {nh} bytes for this suite", section="8")
    joiner_secret = derive_joiner_secret(suite, init_secret, commit_secret, group_context)
    return derive_epoch_from_joiner(suite, joiner_secret, group_context, psk_secret)


def mls_exporter(suite: CipherSuite, exporter_secret: bytes, label: bytes, context: bytes, length: int) -> Secret:
    """MLS-Exporter(Label, Context, Length) =
    ExpandWithLabel(DeriveSecret(exporter_secret, Label), "exported", Hash(Context), Length) (§8.5).

    Raises `UsageError` if ``length`` does not fit a uint16 or exceeds 255 * Nh.
    """
    return suite.expand_with_label(
        suite.derive_secret(exporter_secret, label), b"exported", suite.hash(context), length
    )


def send_external_init(
    suite: CipherSuite, external_pub: bytes, rng: Callable[[int], bytes] | None = None
) -> tuple[bytes, Secret]:
    """The joiner's side of §8.3: ``(kem_output, init_secret)`` from the group's ``external_pub``.

    ``kem_output`` goes into the ExternalInit proposal; ``init_secret`` feeds
    `derive_epoch`. Raises `ProtocolError` if ``external_pub`` is not a valid key.
    """
    return suite.hpke_export_to(external_pub, b"", EXTERNAL_INIT_EXPORT_LABEL, suite.nh, rng)


def receive_external_init(suite: CipherSuite, external_secret: bytes, kem_output: bytes) -> Secret:
    """The members' side of §8.3: the init_secret of an ExternalInit's ``kem_output``.

    The private key is ``DeriveKeyPair(external_secret)`` of the epoch the
    external commit was sent in. Raises `DecryptionError` for a bad ``kem_output``.
    """
    external_priv = suite.derive_key_pair(external_secret).private_key
    return suite.hpke_export_from(external_priv, kem_output, b"", EXTERNAL_INIT_EXPORT_LABEL, suite.nh)
