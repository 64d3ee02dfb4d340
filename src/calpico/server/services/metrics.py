"""Prometheus metrics. Labels are never user data: no ids, no sizes per user, no content."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = [
    "BATCH_SIZE",
    "CATCH_UP_READS",
    "CONNECTIONS",
    "FRAMES_PUSHED",
    "HANDSHAKES",
    "HTTP_REQUESTS",
    "MESSAGES_STORED",
    "REGISTRY",
]

REGISTRY = CollectorRegistry(auto_describe=True)

MESSAGES_STORED = Counter("calpico_messages_stored", "Application messages written to the log", registry=REGISTRY)
HANDSHAKES = Counter("calpico_handshakes", "Handshake messages by outcome", ["kind", "outcome"], registry=REGISTRY)
BATCH_SIZE = Histogram(
    "calpico_write_batch_size",
    "Messages per group-commit transaction",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000),
    registry=REGISTRY,
)
FRAMES_PUSHED = Counter("calpico_frames_pushed", "WebSocket frames queued to devices", registry=REGISTRY)
CATCH_UP_READS = Counter(
    "calpico_catch_up_reads",
    "Reads of a group's log for a connection (backlog at connect, or a gap)",
    registry=REGISTRY,
)
CONNECTIONS = Gauge("calpico_websocket_connections", "Open device WebSockets in this process", registry=REGISTRY)
HTTP_REQUESTS = Counter(
    "calpico_http_requests", "HTTP requests by route template and status", ["route", "status"], registry=REGISTRY
)
