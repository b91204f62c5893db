"""
Reading an untrusted HTTP body, from the API or a CDN, within a size cap and a deadline.

Both are enforced while the body streams in, so a 200 MiB answer costs at most the cap in memory (or on
disk) and a server that drips a byte a second cannot hold a request past its deadline. Socket timeouts
alone bound each read, not the whole answer; ``Content-Length`` alone can be absent or false.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from airflow_provider_apiframe.exceptions import ApiframeResponseTooLargeError, ApiframeTransientError

if TYPE_CHECKING:
    import aiohttp
    import requests

CHUNK_BYTES = 256 * 1024


def check_declared_length(headers: Mapping[str, str], max_bytes: int, what: str, status: int) -> None:
    """Refuse at once an answer whose ``Content-Length`` already says it is over the cap."""
    declared = next((v for k, v in headers.items() if k.lower() == "content-length"), None)
    if declared is not None and declared.strip().isdigit() and int(declared) > max_bytes:
        raise too_large(what, max_bytes, status)


def too_large(what: str, max_bytes: int, status: int) -> ApiframeResponseTooLargeError:
    """Make the error for an answer over the cap, with the answer's HTTP status."""
    return ApiframeResponseTooLargeError(
        f"{what} answered with more than {max_bytes:,} bytes; stopped reading", http_status=status
    )


def sync_chunks(
    response: requests.Response, *, max_bytes: int, deadline: float, what: str
) -> Iterator[bytes]:
    """
    Yield the decoded body of a ``stream=True`` response, chunk by chunk, within the cap and deadline.

    Reading stops with an error at ``max_bytes`` or the monotonic ``deadline``. ``read1`` hands over
    whatever has arrived, so the deadline is checked between any two packets, not only after a full chunk.
    """
    import urllib3.exceptions

    check_declared_length(response.headers, max_bytes, what, response.status_code)
    size = 0
    while True:
        if time.monotonic() > deadline:
            raise ApiframeTransientError(f"{what} timed out: the answer was still arriving at its deadline")
        try:
            chunk = response.raw.read1(CHUNK_BYTES, decode_content=True)
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise ApiframeTransientError(
                f"{what} failed mid-answer: {type(error).__name__}: {error}"
            ) from None
        if not chunk:
            return
        size += len(chunk)
        if size > max_bytes:
            raise too_large(what, max_bytes, response.status_code)
        yield chunk


def sync_body(response: requests.Response, *, max_bytes: int, deadline: float, what: str) -> bytes:
    """Read the whole body of a ``stream=True`` response within ``max_bytes`` and the ``deadline``."""
    return b"".join(sync_chunks(response, max_bytes=max_bytes, deadline=deadline, what=what))


async def async_body(response: aiohttp.ClientResponse, *, max_bytes: int, what: str) -> bytes:
    """
    Read the body of an aiohttp response, up to ``max_bytes``.

    The session's total timeout is the deadline.
    """
    check_declared_length(response.headers, max_bytes, what, response.status)
    body = bytearray()
    async for chunk in response.content.iter_any():
        body += chunk
        if len(body) > max_bytes:
            raise too_large(what, max_bytes, response.status)
    return bytes(body)
