"""The Calpico server: MLS delivery and authentication service (see docs/server.md).

It orders and relays ciphertext and keeps the key directory; it never
decrypts. `calpico.server.app.create_app` builds the ASGI application.
"""
