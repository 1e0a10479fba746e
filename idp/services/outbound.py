"""Every HTTP request the provider makes to a URI that someone registered.

Back-channel logout deliveries and client ``jwks_uri`` fetches go through
:func:`send`, and registration checks such URIs with :func:`check_uri`, so the
rules against server-side request forgery live here and nowhere else:

- https only, and no address that is loopback, private, link-local, multicast,
  reserved or unspecified (IPv4 embedded in IPv6 included: ``::ffff:127.0.0.1``,
  6to4). A host name is resolved and *every* address it resolves to must pass.
- The check runs at registration and again at connect time, and the connection is
  made to the very address that was checked (the host name is kept only for TLS
  SNI, certificate verification and the ``Host`` header), so a name that re-binds
  to an internal address after the check reaches nothing (DNS rebinding).
- Redirects are never followed, there is one total deadline (a watchdog hangs up, also
  while the status line or headers trickle in), and at most
  ``max_bytes`` of a body are read.

Exceptions to the address rule are deliberate: ``IDP_OUTBOUND_ALLOW`` lists the
networks (CIDR) whose addresses are allowed, and host names that may resolve to
private (RFC 1918 / unique-local) addresses — a ministry's own applications.
A development instance whose issuer is itself plain-http loopback (the demo) may
also reach http and https on loopback addresses; nothing else is relaxed there.
"""

from __future__ import annotations

import ipaddress
import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Union
from urllib.parse import urlencode, urlsplit

import urllib3
import urllib3.connection
from urllib3.util.ssl_match_hostname import CertificateError

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052 well-known prefix
# Not globally reachable (IANA special-purpose registries, RFC 6890) yet "global" to the
# ipaddress module of Python 3.11: 192.0.0.192 is a cloud metadata service, and site-local
# (RFC 3879, deprecated) is still routed inside some networks.
NOT_GLOBAL = (ipaddress.ip_network("192.0.0.0/24"), ipaddress.ip_network("fec0::/10"))
# What an IDP_OUTBOUND_ALLOW host name may resolve to besides public addresses: RFC 1918
# and unique-local (RFC 4193) only, checked on the IPv4 an IPv6 address carries, if any.
INTERNAL = tuple(ipaddress.ip_network(net) for net in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"))
CHUNK = 8192


class Refused(Exception):
    """The URI or the address it resolves to is not one the provider may reach.

    ``kind`` is ``scheme``, ``address`` (then ``host`` and ``address`` are set) or
    ``uri``, so that callers can word the refusal for a person in their language.
    """

    def __init__(self, message: str, kind: str = "uri", host: str = "", address: str = ""):
        super().__init__(message)
        self.kind, self.host, self.address = kind, host, address


class OutboundError(Exception):
    """A request could not be completed; ``str()`` is a short fixed summary, no body text."""


@dataclass(frozen=True)
class Policy:
    """Which destinations are allowed (built from the configuration by :func:`policy`)."""

    development_loopback: bool = False
    networks: tuple[IPNetwork, ...] = ()
    hosts: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Reply:
    """What came back: the status and at most ``max_bytes`` of the body."""

    status: int
    body: bytes
    content_type: str


def _loopback_host(host: str) -> bool:
    """``localhost`` or a loopback IP literal (not a name such as 127.0.0.1.example.com)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def policy(config: Mapping[str, Any]) -> Policy:
    """The policy of a provider configuration (IDP_ENV, IDP_ISSUER, IDP_OUTBOUND_ALLOW)."""
    issuer = urlsplit(config["ISSUER"])
    development = (config["ENV"] == "development" and issuer.scheme == "http"
                   and _loopback_host(issuer.hostname or ""))
    networks, hosts = [], set()
    for entry in config.get("OUTBOUND_ALLOW") or ():
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            hosts.add(entry.lower().rstrip("."))
    return Policy(development, tuple(networks), frozenset(hosts))


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, NAT64), if any."""
    if address.version != 6:
        return None
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address.sixtofour:
        return address.sixtofour
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _public(address: IPAddress) -> bool:
    inner = _embedded_ipv4(address)
    if inner is not None and not _public(inner):
        return False
    return address.is_global and not (address.is_multicast or address.is_reserved or any(
        address in net for net in NOT_GLOBAL if net.version == address.version))


def _internal(address: IPAddress) -> bool:
    return any(address in net for net in INTERNAL if net.version == address.version)


def address_allowed(address: IPAddress, host: str, rules: Policy) -> bool:
    """Whether the provider may connect to ``address`` (which ``host`` resolved to)."""
    inner = _embedded_ipv4(address)
    candidates = [address] + ([inner] if inner is not None else [])
    if any(a in net for a in candidates for net in rules.networks if a.version == net.version):
        return True
    if rules.development_loopback and any(a.is_loopback for a in candidates):
        return True
    # A listed name may reach its own private network, never loopback, link-local (the
    # metadata service) or anything else special, also not spelt ::ffff:127.0.0.1.
    if host in rules.hosts and _internal(inner if inner is not None else address):
        return True
    return _public(address)


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (an IP literal, in any spelling, included)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise OutboundError(f"ConnectionError: {host} could not be resolved") from exc
    addresses: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def _parts(uri: str, rules: Policy) -> tuple[str, str, int]:
    try:
        parts = urlsplit(uri)
    except ValueError:  # "https://[::1": not a URI at all
        raise Refused("the URI is not valid") from None
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise Refused("the port is not valid") from None
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise Refused("the URI has no host")
    if parts.username or parts.password:
        raise Refused("the URI must not contain user information")
    if parts.scheme == "https":
        return parts.scheme, host, port
    if parts.scheme == "http" and rules.development_loopback and _loopback_host(host):
        return parts.scheme, host, port
    raise Refused("only https is allowed", kind="scheme")


def _checked(host: str, port: int, rules: Policy) -> list[IPAddress]:
    addresses = resolve(host, port)
    for address in addresses:
        if not address_allowed(address, host, rules):
            raise Refused(f"{host} resolves to {address}, which is not a public address",
                          kind="address", host=host, address=str(address))
    return addresses


def check_uri(uri: str, rules: Policy) -> None:
    """Registration-time check; raises Refused with a reason a developer can act on.

    A name that does not resolve (yet) passes: the connect-time check decides.
    """
    _scheme, host, port = _parts(uri, rules)
    try:
        _checked(host, port, rules)
    except OutboundError:
        return


class _Watchdog:
    """Hangs up at the deadline, whatever the request is doing (TLS handshake, status line,
    headers, body). A read timeout starts again with every byte: a server sending one byte
    of its headers per timeout would otherwise hold the request (and a worker) for hours.
    """

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(seconds, 0.0), self._fire)
        self._timer.daemon = True

    def watch(self, sock: socket.socket) -> None:
        """Called with the connection's socket as soon as it exists."""
        with self._lock:
            # A duplicate: TLS detaches the original, and shutdown() of either one ends
            # the connection they share.
            self._sock = sock.dup()
            if self.expired:
                self._hang_up()

    def start(self) -> None:
        self._timer.start()

    def stop(self) -> None:
        self._timer.cancel()
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None

    def _fire(self) -> None:
        with self._lock:
            self.expired = True
            self._hang_up()

    def _hang_up(self) -> None:
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Watched:
    """Hands the connection's socket to its watchdog as soon as it is made."""

    watchdog: _Watchdog

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()  # type: ignore[misc]
        self.watchdog.watch(sock)
        return sock


class _HTTPConnection(_Watched, urllib3.connection.HTTPConnection):
    pass


class _HTTPSConnection(_Watched, urllib3.connection.HTTPSConnection):
    pass


def _connection(scheme: str, host: str, address: IPAddress, port: int,
                watchdog: _Watchdog, timeout: float) -> urllib3.connection.HTTPConnection:
    """A connection to ``address`` only; TLS still verifies the certificate of ``host``."""
    conn: urllib3.connection.HTTPConnection
    if scheme == "https":
        conn = _HTTPSConnection(str(address), port, timeout=timeout, server_hostname=host,
                                assert_hostname=host, ssl_context=ssl.create_default_context())
    else:
        conn = _HTTPConnection(str(address), port, timeout=timeout)
    conn.watchdog = watchdog  # type: ignore[attr-defined]
    return conn


def _read(response: urllib3.BaseHTTPResponse, sock: socket.socket | None, max_bytes: int,
          deadline: float, timeout: float) -> bytes:
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise OutboundError(f"TooLarge: more than {max_bytes} bytes")
    body = bytearray()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise OutboundError(f"Timeout: no complete answer within {timeout:g} s")
        if sock is not None:
            sock.settimeout(remaining)  # one total deadline, also for a trickling body
        # read1: what has arrived, not "wait until CHUNK bytes" (a trickle would outlast
        # the deadline); no decoding, so a compressed body cannot expand past the limit.
        chunk = response.read1(min(CHUNK, max_bytes + 1 - len(body)), decode_content=False)
        if not chunk:
            return bytes(body)
        body += chunk
        if len(body) > max_bytes:
            raise OutboundError(f"TooLarge: more than {max_bytes} bytes")


def send(method: str, uri: str, rules: Policy, *, timeout: float, max_bytes: int,
         form: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None) -> Reply:
    """Make one request under ``rules``; raises Refused or OutboundError, never follows a redirect."""
    deadline = time.monotonic() + timeout
    scheme, host, port = _parts(uri, rules)
    address = _checked(host, port, rules)[0]
    try:
        target = urllib3.util.parse_url(uri).request_uri  # path and query, percent-encoded
    except ValueError:
        raise Refused("the URI is not valid") from None
    default_port = 443 if scheme == "https" else 80
    host_header = host if ":" not in host else f"[{host}]"
    all_headers = {"Host": host_header if port == default_port else f"{host_header}:{port}",
                   "User-Agent": "idp", **(headers or {})}
    body = None
    if form is not None:
        body = urlencode(dict(form))
        all_headers["Content-Type"] = "application/x-www-form-urlencoded"
    watchdog = _Watchdog(deadline - time.monotonic())
    conn = _connection(scheme, host, address, port, watchdog,
                       timeout=max(deadline - time.monotonic(), 0.01))
    watchdog.start()
    try:
        conn.request(method, target, body=body, headers=all_headers, preload_content=False,
                     decode_content=False)
        response = conn.getresponse()
        try:
            if watchdog.expired:  # hung up mid-headers: what was parsed is not an answer
                raise TimeoutError
            if 300 <= response.status < 400:
                raise OutboundError(f"Redirect: HTTP {response.status} is not followed")
            # max_bytes=0: only the status matters; the body is not read at all.
            content = _read(response, conn.sock, max_bytes, deadline, timeout) if max_bytes else b""
            if watchdog.expired:
                raise TimeoutError
            return Reply(response.status, content, response.headers.get("Content-Type", ""))
        finally:
            response.close()
    except (urllib3.exceptions.HTTPError, http.client.HTTPException, CertificateError,
            OSError) as exc:
        raise _failure(exc, host, port, timeout, watchdog.expired) from None
    finally:
        watchdog.stop()
        conn.close()


def _failure(exc: Exception, host: str, port: int, timeout: float, expired: bool) -> OutboundError:
    """A short fixed summary of what went wrong (no text of the answer)."""
    if isinstance(exc, urllib3.exceptions.NewConnectionError) and not expired:
        return OutboundError(f"ConnectionError: {host}:{port} refused the connection")
    if expired or isinstance(exc, (urllib3.exceptions.TimeoutError, TimeoutError)):
        return OutboundError(f"Timeout: no complete answer within {timeout:g} s")
    return OutboundError(f"ConnectionError: {host}:{port} ({exc.__class__.__name__})")
