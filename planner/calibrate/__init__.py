"""Calibration from measured serving benchmarks: ingest, fit, accuracy, and models from Hugging Face configs.

Data flow (one way, like every solver): benchmark files (+ hardware / model descriptions) -> :mod:`ingest`
(typed :class:`~planner.calibrate.ingest.MeasuredRun`) -> :mod:`replay` (our simulator on the run's own requests)
-> :mod:`fit` (least squares on the iteration model) / :mod:`accuracy` (errors per run, aggregate, leave-one-out)
-> :mod:`writer` (a profile directory whose rows say ``measured:<file>``). Nothing here imports typer or rich.
"""
