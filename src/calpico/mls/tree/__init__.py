"""RFC 9420 §4, §7 and Appendix C — the ratchet tree."""
