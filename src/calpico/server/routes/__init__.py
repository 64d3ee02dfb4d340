"""HTTP and WebSocket routes: parse, call a service, shape the answer. Nothing else."""
