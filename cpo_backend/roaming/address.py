"""Where partners reach us: the base URL under which our OCPI interface is served.

It is the configured ``ocpi.public_url``, or else the address the HTTP listener is bound
to, which is known only once its socket is bound (port 0 picks a free one), after every
part of the back-end is built. So the composition root creates one :class:`PublicAddress`,
gives it to the OCPI interface (our URLs in everything we send a partner) and to the
operator API (the versions URL handed out with a token A), and tells it where the listener
is bound before anything serves.
"""

from __future__ import annotations

# Hosts that mean "every interface": a partner on this machine reaches them at loopback.
_ANY_HOST = ("0.0.0.0", "::", "")


class PublicAddress:
    def __init__(self, configured: str | None) -> None:
        self._configured = configured
        self._bound: str | None = None

    def listening_on(self, host: str, port: int) -> None:
        """The HTTP listener is bound: its address is ours unless one is configured."""
        shown = "127.0.0.1" if host in _ANY_HOST else host
        self._bound = f"http://{shown}:{port}"

    @property
    def url(self) -> str:
        url = self._configured or self._bound
        if url is None:
            raise RuntimeError("no ocpi.public_url configured and the HTTP listener is not bound")
        return url.rstrip("/")

    @property
    def versions_url(self) -> str:
        """Our OCPI versions endpoint (the root mounts the OCPI app at ``/ocpi``)."""
        return f"{self.url}/ocpi/versions"
