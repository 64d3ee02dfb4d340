"""RFC 9420 §8.2 — transcript hashes and confirmation tags (the official vectors run in test_conformance_vectors.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from calpico.mls.codec import encode_varint
from calpico.mls.crypto import get_suite
from calpico.mls.errors import DecodeError, UsageError, VerificationError
from calpico.mls.framing import AuthenticatedContent, ContentType, FramedContentAuthData, WireFormat
from calpico.mls.transcript import (
    ConfirmedTranscriptHashInput,
    InterimTranscriptHashInput,
    TranscriptHashes,
    confirmation_tag,
    confirmed_transcript_hash,
    interim_transcript_hash,
    verify_confirmation_tag,
)

from .damage import damaged
from .samples import framed_content

SUITE = get_suite(1)
KEY = bytes(range(32))


def commit_content(tag: bytes, signature: bytes = b"sig") -> AuthenticatedContent:
    content = framed_content(ContentType.commit)
    return AuthenticatedContent(WireFormat.mls_public_message, content, FramedContentAuthData(signature, tag))


def test_hash_inputs_are_the_authenticated_content_split_at_the_tag() -> None:
    commit = commit_content(b"T" * 32)
    whole = commit.encode()
    confirmed_input = ConfirmedTranscriptHashInput.of(commit).encode()
    interim_input = InterimTranscriptHashInput(b"T" * 32).encode()
    assert whole == confirmed_input + interim_input
    assert ConfirmedTranscriptHashInput.decode(confirmed_input).content == commit.content


def test_hashes_chain_as_section_8_2_says() -> None:
    commit = commit_content(b"T" * 32)
    start = TranscriptHashes()
    assert (start.confirmed, start.interim) == (b"", b"")
    after = start.next(SUITE, commit)
    confirmed = SUITE.hash(ConfirmedTranscriptHashInput.of(commit).encode())
    assert after.confirmed == confirmed == confirmed_transcript_hash(SUITE, b"", commit)
    assert after.interim == SUITE.hash(confirmed + encode_varint(32) + b"T" * 32)
    assert after.interim == interim_transcript_hash(SUITE, confirmed, b"T" * 32)
    again = after.next(SUITE, commit)
    assert again.confirmed == SUITE.hash(after.interim + ConfirmedTranscriptHashInput.of(commit).encode())


def test_a_joiner_seeded_from_group_info_follows_the_members() -> None:
    member = TranscriptHashes(b"c" * 32, b"i" * 32)
    # The committer computes the new confirmed hash, then the tag from the new epoch's key.
    unsigned_tag = commit_content(b"")
    confirmed = confirmed_transcript_hash(SUITE, member.interim, unsigned_tag)
    tag = confirmation_tag(SUITE, KEY, confirmed)
    member = member.next(SUITE, commit_content(tag))
    assert member.confirmed == confirmed
    # The joiner gets (confirmed, tag) in the GroupInfo.
    verify_confirmation_tag(SUITE, KEY, confirmed, tag)
    joiner = TranscriptHashes.from_group_info(SUITE, confirmed, tag)
    assert joiner == member
    nxt = commit_content(b"N" * 32)
    assert joiner.next(SUITE, nxt) == member.next(SUITE, nxt)


def test_a_wrong_confirmation_tag_is_refused() -> None:
    tag = confirmation_tag(SUITE, KEY, b"h" * 32)
    assert tag == SUITE.mac(KEY, b"h" * 32)
    for key, confirmed, bad_tag in [(KEY, b"x" * 32, tag), (bytes(32), b"h" * 32, tag), (KEY, b"h" * 32, tag[:-1])]:
        with pytest.raises(VerificationError) as info:
            verify_confirmation_tag(SUITE, key, confirmed, bad_tag)
        assert info.value.section == "8.2"


def test_only_commits_move_the_transcript() -> None:
    proposal = AuthenticatedContent(
        WireFormat.mls_public_message, framed_content(ContentType.proposal), FramedContentAuthData(b"sig")
    )
    with pytest.raises(UsageError):
        TranscriptHashes().next(SUITE, proposal)
    untagged = AuthenticatedContent(
        WireFormat.mls_public_message, framed_content(ContentType.commit), FramedContentAuthData(b"sig")
    )
    with pytest.raises(UsageError):
        TranscriptHashes().next(SUITE, untagged)


def test_persistence() -> None:
    hashes = TranscriptHashes(b"c" * 32, b"i" * 32)
    assert TranscriptHashes.from_bytes(hashes.to_bytes()) == hashes
    assert TranscriptHashes.from_bytes(TranscriptHashes().to_bytes()) == TranscriptHashes()
    with pytest.raises(DecodeError):
        TranscriptHashes.from_bytes(b"\x02" + hashes.to_bytes()[1:])
    with pytest.raises(DecodeError):
        TranscriptHashes.from_bytes(hashes.to_bytes()[:-1])


@settings(max_examples=200, deadline=None)
@given(damaged(TranscriptHashes(b"c" * 32, b"i" * 32).to_bytes()))
def test_damaged_records_raise_only_decode_errors(data: bytes) -> None:
    try:
        hashes = TranscriptHashes.from_bytes(data)
    except DecodeError:
        return
    assert hashes.to_bytes() == data
