"""The optional ``splitwise:`` section of a cluster spec (options of ``plan splitwise``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class SplitwiseSection(BaseModel):
    """Options of the splitwise solver that belong with the cluster rather than on the command line."""

    model_config = ConfigDict(extra="forbid", frozen=True)
