"""Where a webhook may point: HTTPS outside development, never a private address by default."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from patron.core.errors import InvalidInput

MAX_URL_LENGTH = 2000
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


@dataclass(frozen=True, slots=True)
class UrlPolicy:
    require_https: bool = True
    allow_private: bool = False


def is_public(address: str) -> bool:
    """A globally routable unicast address: not loopback, private, link-local or reserved."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url(url: str, policy: UrlPolicy) -> str:
    """The URL, cleaned, or InvalidInput saying why it cannot receive webhooks."""
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput(f"a webhook URL has at most {MAX_URL_LENGTH} characters", field="url")
    parts = urlsplit(url)
    allowed = ("https",) if policy.require_https else ("https", "http")
    if parts.scheme not in allowed:
        raise InvalidInput(
            "a webhook URL must use https" if policy.require_https else "a webhook URL is http(s)",
            field="url",
        )
    host = (parts.hostname or "").lower()
    if not host or parts.username or parts.password:
        raise InvalidInput("a webhook URL needs a host and no user name", field="url")
    try:
        _ = parts.port
    except ValueError:
        raise InvalidInput("a webhook URL has an invalid port", field="url") from None
    if not policy.allow_private and (host in _LOCAL_NAMES or host.endswith(".localhost")):
        raise InvalidInput("a webhook URL may not point at this machine", field="url")
    if not policy.allow_private and _is_literal(host) and not is_public(host):
        raise InvalidInput("a webhook URL may not point at a private address", field="url")
    return url


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True
