"""llmplan: plan LLM deployments on GPU clusters and prove the figures.

Data flow: cluster spec + profile database -> solver -> plan document -> report / diff / simulate.
"""

__version__ = "0.1.0"

#: Semantic version of the plan JSON document. A minor bump only adds fields; readers ignore unknown keys.
FORMAT_VERSION = "1.0.0"
