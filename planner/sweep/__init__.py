"""Scenario sweeps: one base spec, axes of ``--set`` paths and solver options, one plan per point.

The pieces, in the order a sweep uses them:

* :mod:`planner.sweep.schema`: the sweep file (pydantic) and its checks against the base spec (exit 2, nothing run);
* :mod:`planner.sweep.points`: the points (cartesian product or zip of the axes) and each point's command line;
* :mod:`planner.sweep.cache`: the content-addressed cache that lets a rerun or a resumed sweep skip finished points;
* :mod:`planner.executors`: where points run: a local process pool (default) or a Ray cluster;
* :mod:`planner.sweep.run`: the loop that ties them together and survives failures and Ctrl-C;
* :mod:`planner.sweep.results`: the results table (pandas; Parquet and CSV) and the Pareto frontiers.

A point is *not* a special code path: it is the single-plan command (``plan splitwise SPEC --set ... --out ...``)
run in a worker. The function that runs it is handed in by the CLI layer (``planner/cli``), so nothing here
imports typer, rich or the CLI.
"""
