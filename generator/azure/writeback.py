"""Write client IDs into ``fluxforge.yaml`` keeping its comments and layout (see
:func:`generator.config.writeback.with_fields`). Pure: text in, text out."""

from __future__ import annotations

from collections.abc import Mapping

from generator.config.model import KeyPath
from generator.config.writeback import with_fields

__all__ = ["with_client_ids"]


def with_client_ids(text: str, client_ids: Mapping[KeyPath, str], *, display: str = "fluxforge.yaml") -> str:
    """``text`` with ``clientId: <id>`` set in each identity mapping at the given key paths: placed right
    after ``name`` (or first), every other line untouched."""
    return with_fields(
        text,
        {path: {"clientId": client_id} for path, client_id in client_ids.items()},
        after="name",
        display=display,
        command="fluxforge azure apply",
    )
