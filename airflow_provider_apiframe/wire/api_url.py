"""Where the API is: the base URL of an apiframe connection, HTTPS unless the host is this machine."""

from __future__ import annotations

import ipaddress
import logging
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_apiframe.connection_form import DEFAULT_API_URL
from airflow_provider_apiframe.exceptions import ApiframeConfigurationError

# The extra's opt-in to send the key over plain HTTP to a host other than this machine.
INSECURE_HTTP_KEY = "allow_insecure_http"

log = logging.getLogger(__name__)


def api_base_url(conn_id: str, host: str | None, schema: str | None, port: int | None, extra: Any) -> str:
    """
    Return the API's base URL from a connection: its host, which may carry a scheme, a port and a path prefix.

    Without a scheme it is ``https``: the key must not travel in clear text because a scheme was left
    out (the http provider's rule would fall back to ``http``). Plain ``http`` is accepted for this
    machine (the emulator), elsewhere only with ``allow_insecure_http: true`` in the extra.
    """
    text = (host or "").strip() or DEFAULT_API_URL
    try:
        parts = urlsplit(text if "://" in text else f"//{text}")
        url_port = parts.port
    except ValueError as error:
        raise ApiframeConfigurationError(
            f"The connection {conn_id!r} has an invalid API URL: {error}"
        ) from None
    hostname = parts.hostname
    if not hostname:
        raise ApiframeConfigurationError(f"The connection {conn_id!r} has no host in its API URL {text!r}")
    local = _is_loopback(hostname)
    scheme = (parts.scheme or (schema or "").strip() or ("http" if local else "https")).lower()
    if scheme not in ("http", "https"):
        raise ApiframeConfigurationError(
            f"The connection {conn_id!r} names the scheme {scheme!r}: the API URL must be https:// "
            "(or http:// for a local emulator)"
        )
    if scheme == "http" and not local:
        if not (isinstance(extra, dict) and extra.get(INSECURE_HTTP_KEY) in (True, "true", "True")):
            raise ApiframeConfigurationError(
                f"The connection {conn_id!r} would send the API key in clear text to http://{hostname}: "
                f"use https://, or set {INSECURE_HTTP_KEY}: true in its extra if that host is only "
                "reachable over plain HTTP (a proxy inside your network)"
            )
        log.warning("Connection %r sends the API key over plain HTTP to %s", conn_id, hostname)
    netloc = hostname if ":" not in hostname else f"[{hostname}]"
    chosen_port = url_port or port
    if chosen_port:
        netloc += f":{chosen_port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def _is_loopback(hostname: str) -> bool:
    if hostname.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False
