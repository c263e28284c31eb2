"""Physical models that generate the synthetic profile tables (never imported by a solver).

A synthetic table is data like any other once written (``profiles/tables/*.csv``, every row labelled
``synthetic:<generator>``); the models that produced it live here, beside the scripts that run them
(``scripts/gen_dynamo_profile.py``), so a solver reads the table and never the physics.
"""
