"""
The API on the wire: connection settings, the transport and the API's data shapes.

The transport keeps one policy for sync and async: deadlines and size caps, pacing and the budget shared
through Redis, and idempotency keys.
"""
