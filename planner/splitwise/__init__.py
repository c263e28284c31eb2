"""The splitwise solver: spec + profiles -> model -> solve -> verified plan."""
