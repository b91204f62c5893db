"""
The API on the wire: connection settings and the transport (one policy for sync and async), deadlines and
size caps, pacing and the budget shared through Redis, idempotency keys, and the API's data shapes.
"""
