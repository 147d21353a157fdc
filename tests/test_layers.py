"""The import rules of docs/architecture.md, checked on the source: a rule that only the
reviewers keep is broken by the first hurried change.

- ``domain/`` is protocol-free: it imports no adapter, no roaming layer, no OCPI table
  and no protocol or web package.
- ``roaming/`` (partners, published locations and tariffs, CDR numbering) serves the
  OCPI adapter and the operator API, and imports neither of them, nor the OCPP adapter.
- The adapters (``ocpp/``, ``ocpi/``, ``api/``) never import each other.
- ``db/`` holds tables and the machinery that stores facts and events; it imports no
  adapter and no roaming module.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cpo_backend"
ADAPTERS = ("cpo_backend.ocpp", "cpo_backend.ocpi", "cpo_backend.api")
PROTOCOL_PACKAGES = ("ocpp", "fastapi", "starlette", "httpx", "websockets")

FORBIDDEN: dict[str, tuple[str, ...]] = {
    "cpo_backend.domain": (
        *ADAPTERS,
        "cpo_backend.roaming",
        "cpo_backend.db.tables_ocpi",
        *PROTOCOL_PACKAGES,
    ),
    "cpo_backend.roaming": (*ADAPTERS, "ocpp", "websockets"),
    "cpo_backend.db": (*ADAPTERS, "cpo_backend.roaming"),
    "cpo_backend.ocpp": ("cpo_backend.ocpi", "cpo_backend.api", "cpo_backend.roaming"),
    "cpo_backend.ocpi": ("cpo_backend.ocpp", "cpo_backend.api"),
    "cpo_backend.api": ("cpo_backend.ocpp", "cpo_backend.ocpi"),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    package = _module_name(path).rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolved against the module's package
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                yield node.lineno, f"{base}.{node.module}" if node.module else base
            elif node.module:
                yield node.lineno, node.module


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _violations() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        module = _module_name(path)
        for layer, forbidden in FORBIDDEN.items():
            if not _within(module, layer):
                continue
            for line, imported in _imports(path):
                if any(_within(imported, banned) for banned in forbidden):
                    found.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {imported}")
    return found


def test_every_layer_imports_only_what_the_architecture_allows() -> None:
    assert _violations() == []


@pytest.mark.parametrize(
    ("module", "imported", "allowed"),
    [
        ("cpo_backend.domain.tokens", "cpo_backend.ocpi.tokens", False),
        ("cpo_backend.domain.tokens", "cpo_backend.roaming.partner_tokens", False),
        ("cpo_backend.domain.tokens", "ocpp.v16", False),
        ("cpo_backend.ocpi.sessions", "cpo_backend.roaming.partners", True),
        ("cpo_backend.api.app", "cpo_backend.ocpi.outbox", False),
        ("cpo_backend.ocpp.v16.handlers", "cpo_backend.domain.stations", True),
    ],
)
def test_the_rules_tell_allowed_from_forbidden(module: str, imported: str, allowed: bool) -> None:
    """The check itself, on examples: a checker that allows everything would pass above."""
    rules = [banned for layer, banned in FORBIDDEN.items() if _within(module, layer)]
    assert all(not _within(imported, b) for banned in rules for b in banned) == allowed
