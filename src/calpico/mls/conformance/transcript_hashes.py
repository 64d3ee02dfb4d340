"""Checker for the transcript-hashes vector file (RFC 9420 §8.2, §6.1 confirmation tag)."""

from __future__ import annotations

from ..crypto import SUITES, get_suite
from ..framing import AuthenticatedContent, ContentType
from ..transcript import TranscriptHashes, confirmation_tag, verify_confirmation_tag
from . import Case, Mismatch, Skip, checker, expect_equal, unhex


@checker("transcript-hashes")
def check_transcript_hashes(case: Case) -> None:
    suite_id = case["cipher_suite"]
    if suite_id not in SUITES:
        raise Skip(f"cipher suite {suite_id} is not supported")
    suite = get_suite(suite_id)
    content = AuthenticatedContent.decode(unhex(case["authenticated_content"]))
    if content.content.content_type != ContentType.commit or content.auth.confirmation_tag is None:
        raise Mismatch("authenticated_content does not carry a Commit")
    before = TranscriptHashes(b"", unhex(case["interim_transcript_hash_before"]))
    after = before.next(suite, content)
    expect_equal("confirmed_transcript_hash_after", after.confirmed, unhex(case["confirmed_transcript_hash_after"]))
    expect_equal("interim_transcript_hash_after", after.interim, unhex(case["interim_transcript_hash_after"]))
    key = unhex(case["confirmation_key"])
    # The tag in the content is MAC(confirmation_key, confirmed_transcript_hash_after).
    verify_confirmation_tag(suite, key, after.confirmed, content.auth.confirmation_tag)
    expect_equal("confirmation_tag", confirmation_tag(suite, key, after.confirmed), content.auth.confirmation_tag)
