"""Correcting a bill: CDRs are never changed once sent; a Credit CDR cancels one.

The operator asks through the :class:`CdrCorrections` port (implemented by the OCPI
adapter, which owns CDRs); the domain only names what can go wrong.
"""

from __future__ import annotations

from typing import Any, Protocol

from cpo_backend.domain.errors import Conflict, NotFound


class CdrNotFound(NotFound):
    noun = "cdr"


class CdrNotCreditable(Conflict):
    """A Credit CDR itself, one already credited, or one whose version has no credits."""

    code = "cdr_not_creditable"


class CdrCorrections(Protocol):
    async def credit(self, cdr_id: str, *, reissue: bool) -> dict[str, Any]:
        """Send a Credit CDR for ``cdr_id`` (and, with ``reissue``, a new CDR of the same
        session, built again from what is stored now); the Credit CDR."""
        ...
