"""The dynamo solver: spec + profiles -> model -> solve -> verified plan."""
