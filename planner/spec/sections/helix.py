"""The optional ``helix:`` section of a cluster spec (options of ``plan helix``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class HelixSection(BaseModel):
    """Options of the helix solver that belong with the cluster rather than on the command line."""

    model_config = ConfigDict(extra="forbid", frozen=True)
