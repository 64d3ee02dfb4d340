"""Checkers for the welcome and passive-client vector files (RFC 9420 §12.2–§12.4.3.1).

The passive-client kinds (passive-client-welcome, -handling-commit, -random:
one checker, recognised by content) run through the public `Group` API:
join with the given keys, PSKs and optional out-of-band tree, then for each
epoch process its proposals and its commit, merge, and compare the epoch
authenticator. KeyPackage lifetimes are not checked (the vectors' expired
long ago; §7.3 only recommends the check on receipt).
"""

from __future__ import annotations

from ..crypto import SUITES, get_suite
from ..group import Group, GroupConfig, StagedCommit
from ..group.group_info import verify_group_info_signature
from ..group.join import open_welcome
from ..key_package import KeyPackage, KeyPackageBundle
from ..key_schedule import derive_epoch_from_joiner
from ..messages import MLSMessage
from ..secret import Secret
from ..transcript import verify_confirmation_tag
from ..welcome import Welcome
from . import Case, Mismatch, Skip, checker, expect_equal, unhex

# EC private keys are big-endian scalars; the vectors drop leading zero bytes (a P-521 key is
# then 65 bytes), our crypto layer takes them at full width.
_SCALAR_LENGTH = {2: 32, 5: 66, 7: 48}


def _private_key(case: Case, name: str) -> bytes:
    key = unhex(case[name])
    width = _SCALAR_LENGTH.get(case["cipher_suite"])
    return key if width is None else key.rjust(width, b"\x00")


def _key_package(case: Case) -> KeyPackage:
    body = MLSMessage.decode(unhex(case["key_package"])).body
    if not isinstance(body, KeyPackage):
        raise Mismatch("key_package is not an MLSMessage(KeyPackage)")
    return body


def _welcome(case: Case) -> Welcome:
    body = MLSMessage.decode(unhex(case["welcome"])).body
    if not isinstance(body, Welcome):
        raise Mismatch("welcome is not an MLSMessage(Welcome)")
    return body


@checker("welcome")
def check_welcome(case: Case) -> None:
    suite_id = case["cipher_suite"]
    if suite_id not in SUITES:
        raise Skip(f"cipher suite {suite_id} is not supported")
    suite = get_suite(suite_id)
    key_package = _key_package(case)
    # The vector gives only the init key; the leaf key is not needed to open a Welcome.
    bundle = KeyPackageBundle(key_package, Secret(_private_key(case, "init_priv")), Secret(b""))
    secrets, group_info, psk_secret = open_welcome(_welcome(case), bundle, GroupConfig())
    verify_group_info_signature(suite, group_info, unhex(case["signer_pub"]))
    schedule = derive_epoch_from_joiner(suite, secrets.joiner_secret, group_info.group_context, psk_secret)
    verify_confirmation_tag(
        suite,
        schedule.secrets.confirmation_key,
        group_info.group_context.confirmed_transcript_hash,
        group_info.confirmation_tag,
    )


@checker("passive-client")
def check_passive_client(case: Case) -> None:
    suite_id = case["cipher_suite"]
    if suite_id not in SUITES:
        raise Skip(f"cipher suite {suite_id} is not supported")
    suite = get_suite(suite_id)
    key_package = _key_package(case)
    signature_priv = _private_key(case, "signature_priv")
    encryption_priv = _private_key(case, "encryption_priv")
    init_priv = _private_key(case, "init_priv")
    leaf = key_package.leaf_node
    expect_equal("signature key", suite.signature_public_key(signature_priv), leaf.signature_key)
    expect_equal("encryption key", suite.hpke_public_key(encryption_priv), leaf.encryption_key)
    expect_equal("init key", suite.hpke_public_key(init_priv), key_package.init_key)
    psks = {unhex(p["psk_id"]): unhex(p["psk"]) for p in case.get("external_psks") or ()}
    config = GroupConfig(external_psks=psks)
    bundle = KeyPackageBundle(key_package, Secret(init_priv), Secret(encryption_priv))
    tree = case.get("ratchet_tree")
    group = Group.join(
        unhex(case["welcome"]), bundle, signature_priv, ratchet_tree=unhex(tree) if tree else None, config=config
    )
    expect_equal("initial epoch_authenticator", group.epoch_authenticator, unhex(case["initial_epoch_authenticator"]))
    for number, epoch in enumerate(case["epochs"]):
        for proposal in epoch["proposals"]:
            group.process(unhex(proposal))
        staged = group.process(unhex(epoch["commit"]))
        if not isinstance(staged, StagedCommit):
            raise Mismatch(f"epoch {number}: the commit gave {type(staged).__name__}")
        group.merge(staged)
        expect_equal(
            f"epoch {number} epoch_authenticator", group.epoch_authenticator, unhex(epoch["epoch_authenticator"])
        )
