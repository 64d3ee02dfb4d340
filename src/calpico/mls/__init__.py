"""RFC 9420 (Messaging Layer Security), sans-I/O, on the ``cryptography`` package.

This package does no I/O, reads no clock or randomness it was not given, and
imports nothing else of Calpico; it could be published on its own.
"""
