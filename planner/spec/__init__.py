"""Cluster spec: the YAML a user writes, its pydantic schema and its loader."""
