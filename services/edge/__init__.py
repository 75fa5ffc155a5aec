"""The edge: HTTP in, NATS out. Authentication, request ids, limits, errors, SSE."""
