"""The optional ``dynamo:`` section of a cluster spec (options of ``plan dynamo``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class DynamoSection(BaseModel):
    """Options of the dynamo solver that belong with the cluster rather than on the command line."""

    model_config = ConfigDict(extra="forbid", frozen=True)
