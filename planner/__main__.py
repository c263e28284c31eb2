"""Allow ``python -m planner``."""

from planner.cli import app

app(prog_name="plan")
