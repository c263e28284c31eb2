"""The ``plan`` command line: the top layer, and the only one that knows typer and rich.

Every command module here declares options, turns them into the solver's options, calls one function of the layer
below (:mod:`planner.runner`, :mod:`planner.sim`, :mod:`planner.diff`, ...), renders the result, writes the files
the user asked for and maps errors to exit codes (:func:`planner.cli.common.handle_errors`). Nothing below imports
this package.
"""

from planner.cli.app import app

__all__ = ["app"]
