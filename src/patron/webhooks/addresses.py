"""Where a webhook may point: HTTPS outside development, never a private address by default.

A URL is judged whole when a webhook is created or changed, and again before every delivery:
its host must be a name that can be looked up (IDNA, labels of at most 63 characters, at most
253 in all) or an IP address written plainly. Whatever the system's resolver would read as an
IPv4 address (``2130706433``, ``0x7f000001``, ``0177.0.0.1``, ``127.1``) is refused unless it
is a plain dotted quad, and an IPv6 address that carries an IPv4 one (mapped, compatible,
NAT64, 6to4, Teredo) is judged by the IPv4 address it carries.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import unicodedata
from dataclasses import dataclass
from urllib.parse import urlsplit

import idna

from patron.core.errors import InvalidInput

MAX_URL_LENGTH = 2000
MAX_LABEL_LENGTH = 63
MAX_HOST_LENGTH = 253
# Said with every refusal of a local address, so that whoever meets one learns the way out.
ALLOW_PRIVATE_HINT = (
    "PATRON_WEBHOOK_ALLOW_PRIVATE_ADDRESSES=true allows it, for a receiver on this machine or "
    "network"
)
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
# What an ASCII host name's labels are made of (underscores occur in real names, so they pass).
_LABEL = re.compile(r"[a-z0-9_-]+")
# A last label the WHATWG URL standard (and so browsers) would read as part of an IPv4 address.
_NUMERIC = re.compile(r"[0-9]+|0x[0-9a-f]*")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# RFC 8215: local-use NAT64, which never leads anywhere public.
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")
_SITE_LOCAL = ipaddress.IPv6Network("fec0::/10")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class UrlPolicy:
    require_https: bool = True
    allow_private: bool = False


@dataclass(frozen=True, slots=True)
class CheckedUrl:
    """A webhook URL that passed ``check_url``, and where it leads.

    ``host`` is what to look up and to name in the Host header and TLS: the ASCII (IDNA) form,
    lower case, without a trailing dot; for an IP literal, the address (IPv6 without brackets),
    which is then ``address`` too.
    """

    url: str
    host: str
    port: int
    address: Address | None


def is_public(address: str) -> bool:
    """A globally routable unicast address: not loopback, private, link-local or reserved.

    An IPv6 address that carries an IPv4 one is judged by the IPv4 address (all of them, for
    Teredo's server and client); anything that is not an IP address is not public.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    return _public(ip)


def _public(ip: Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _LOCAL_NAT64 or ip in _SITE_LOCAL:
            return False
        embedded = _embedded(ip)
        if embedded is not None:
            return all(_public(inner) for inner in embedded)
    return ip.is_global and not ip.is_multicast


def _embedded(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address] | None:
    """The IPv4 addresses an IPv6 address leads to, when it is one that carries them."""
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    low = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _IPV4_COMPATIBLE or ip in _NAT64:  # ``::a.b.c.d`` (and ``::``, ``::1``), NAT64
        return [low]
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip.teredo is not None:
        return list(ip.teredo)
    return None


def check_url(url: str, policy: UrlPolicy) -> str:
    """The URL, cleaned, or InvalidInput saying why it cannot receive webhooks."""
    return checked_url(url, policy).url


def checked_url(url: str, policy: UrlPolicy) -> CheckedUrl:
    """``check_url``, with the host to resolve and call."""
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise _invalid(f"a webhook URL has at most {MAX_URL_LENGTH} characters")
    if any(_unprintable(character) for character in url):
        raise _invalid("a webhook URL may not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _invalid("a webhook URL has an invalid host or port") from None
    allowed = ("https",) if policy.require_https else ("https", "http")
    if parts.scheme not in allowed:
        raise _invalid(
            "a webhook URL must use https" if policy.require_https else "a webhook URL is http(s)"
        )
    written = parts.netloc.rpartition("@")[2]
    if "@" in parts.netloc or not parts.hostname:
        raise _invalid("a webhook URL needs a host and no user name")
    if port == 0:
        raise _invalid("a webhook URL has an invalid port")
    port = port or (443 if parts.scheme == "https" else 80)
    address: Address | None
    if written.startswith("["):
        host, address = _ipv6_literal(parts.hostname)
    else:
        host, address = _host_name(parts.hostname)
    if not policy.allow_private:
        if address is None and (host in _LOCAL_NAMES or host.endswith(".localhost")):
            raise _invalid(f"a webhook URL may not point at this machine ({ALLOW_PRIVATE_HINT})")
        if address is not None and not _public(address):
            raise _invalid(
                f"a webhook URL may not point at a private address ({ALLOW_PRIVATE_HINT})"
            )
    return CheckedUrl(url, host, port, address)


def _ipv6_literal(host: str) -> tuple[str, Address]:
    try:
        address = ipaddress.IPv6Address(host.split("%", 1)[0])
    except ValueError:
        raise _invalid("a webhook URL has an invalid IPv6 address") from None
    return host, address


def _host_name(written: str) -> tuple[str, Address | None]:
    """The host in ASCII, without a trailing dot, and its address when it is an IPv4 one."""
    name = written.removesuffix(".")  # ``LOCALHOST.`` is ``localhost``
    if name.isascii():
        labels = name.split(".")
        if not all(_LABEL.fullmatch(label) for label in labels):
            raise _invalid("a webhook URL has an invalid host name")
        too_long = [label for label in labels if len(label) > MAX_LABEL_LENGTH]
        if too_long:
            raise _invalid(
                f"a webhook URL's host name has a part longer than {MAX_LABEL_LENGTH} characters"
            )
        host = name
        punycode = [label for label in labels if label.startswith("xn--")]
    else:
        host, punycode = _idna(name), []
    if len(host) > MAX_HOST_LENGTH:
        raise _invalid(f"a webhook URL's host name has more than {MAX_HOST_LENGTH} characters")
    for label in punycode:
        try:
            idna.decode(label)
        except (idna.IDNAError, UnicodeError):
            raise _invalid("a webhook URL has an invalid host name") from None
    address = _ipv4(host)
    if address is not None:
        if written != str(address):
            raise _invalid(
                "a webhook URL's host is an ambiguous form of an IPv4 address "
                "(write it as four decimal numbers)"
            )
        return host, address
    if _NUMERIC.fullmatch(host.rsplit(".", 1)[-1]):
        raise _invalid("a webhook URL's host ends in a number but is not an IPv4 address")
    return host, None


def _idna(name: str) -> str:
    try:
        encoded = idna.encode(name, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError) as error:
        raise _invalid(f"a webhook URL has an invalid host name ({error})") from None
    labels = encoded.split(".")
    if not all(_LABEL.fullmatch(label) for label in labels):
        raise _invalid("a webhook URL has an invalid host name")
    if any(len(label) > MAX_LABEL_LENGTH for label in labels):
        raise _invalid(
            f"a webhook URL's host name has a part longer than {MAX_LABEL_LENGTH} characters"
        )
    return encoded


def _ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The address, when the system's resolver would take the host for an IPv4 address."""
    try:
        packed = socket.inet_aton(host)
    except (OSError, ValueError):  # ValueError: an embedded NUL
        return None
    return ipaddress.IPv4Address(packed)


def _unprintable(character: str) -> bool:
    """Whitespace, control, format (zero-width) and unassigned characters."""
    return character.isspace() or unicodedata.category(character)[0] in "CZ"


def _invalid(message: str) -> InvalidInput:
    return InvalidInput(message, field="url")
