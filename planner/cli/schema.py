"""``plan schema``: the JSON Schema of the plan document (``make schema`` writes it to planner/schemas/)."""

from __future__ import annotations

import json

from planner.render.console import out_text


def schema_command() -> None:
    """Print the JSON Schema of the plan document."""
    from planner.plan import plan_json_schema

    out_text(json.dumps(plan_json_schema(), indent=2, sort_keys=True))
