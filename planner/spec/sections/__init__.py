"""Solver-specific spec sections, one module per solver so each can grow on its own."""
