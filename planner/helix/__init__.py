"""The helix solver: spec + profiles -> model -> solve -> verified plan."""
