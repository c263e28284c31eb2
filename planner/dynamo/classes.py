"""Request classes: input-length x output-length buckets (DynamoLLM reference section 3).

A request with ``input`` prompt tokens and ``output`` generated tokens belongs to the bucket pair whose half-open
ranges contain it: with cuts ``(256, 1024)`` the input buckets are ``[0, 256)``, ``[256, 1024)``, ``[1024, inf)``
(strict ``<`` comparisons, as in the re-implementation [R]). The class name joins the bucket labels, input first:
``SS`` ... ``LL`` for the default labels ``S``, ``M``, ``L``.

Pool dominance [R]: a pool configured for class (i, o) may serve any class (i', o') with i' <= i and o' <= o (by
bucket index), so ``LL`` can serve everything.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_INPUT_CUTS: tuple[int, ...] = (256, 1024)
DEFAULT_OUTPUT_CUTS: tuple[int, ...] = (100, 350)
DEFAULT_LABELS: tuple[str, ...] = ("S", "M", "L")


@dataclass(frozen=True)
class RequestClass:
    """One class: its name and bucket indices (0 = shortest)."""

    name: str
    input_bucket: int
    output_bucket: int

    def dominates(self, other: RequestClass) -> bool:
        """True if a pool of this class may serve ``other`` (both buckets at least as long)."""
        return self.input_bucket >= other.input_bucket and self.output_bucket >= other.output_bucket


@dataclass(frozen=True)
class ClassScheme:
    """The cut points and labels that define the classes."""

    input_cuts: tuple[int, ...] = DEFAULT_INPUT_CUTS
    output_cuts: tuple[int, ...] = DEFAULT_OUTPUT_CUTS
    input_labels: tuple[str, ...] = DEFAULT_LABELS
    output_labels: tuple[str, ...] = DEFAULT_LABELS

    def __post_init__(self) -> None:
        for cuts, labels, what in (
            (self.input_cuts, self.input_labels, "input"),
            (self.output_cuts, self.output_labels, "output"),
        ):
            if list(cuts) != sorted(set(cuts)) or any(c <= 0 for c in cuts):
                raise ValueError(f"{what} cut points must be positive and strictly increasing")
            if len(labels) != len(cuts) + 1:
                raise ValueError(f"{what} needs {len(cuts) + 1} labels for {len(cuts)} cut points")

    @property
    def classes(self) -> tuple[RequestClass, ...]:
        """All classes, input bucket major (SS, SM, SL, MS, ... LL)."""
        return tuple(
            RequestClass(f"{il}{ol}", i, o)
            for i, il in enumerate(self.input_labels)
            for o, ol in enumerate(self.output_labels)
        )

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.classes)

    def by_name(self) -> dict[str, RequestClass]:
        return {c.name: c for c in self.classes}

    def classify(self, input_tokens: int, output_tokens: int) -> str:
        """The class of one request."""
        i = int(np.searchsorted(self.input_cuts, input_tokens, side="right"))
        o = int(np.searchsorted(self.output_cuts, output_tokens, side="right"))
        return f"{self.input_labels[i]}{self.output_labels[o]}"

    def classify_many(self, input_tokens: np.ndarray, output_tokens: np.ndarray) -> np.ndarray:
        """Class index (into :attr:`classes`) of every request, vectorised."""
        i = np.searchsorted(np.asarray(self.input_cuts), input_tokens, side="right")
        o = np.searchsorted(np.asarray(self.output_cuts), output_tokens, side="right")
        return i * len(self.output_labels) + o

    def counts(self, input_tokens: np.ndarray, output_tokens: np.ndarray) -> dict[str, int]:
        """Requests per class (every class present, zeros included)."""
        idx = self.classify_many(input_tokens, output_tokens)
        tally = np.bincount(idx, minlength=len(self.classes))
        return {c.name: int(tally[k]) for k, c in enumerate(self.classes)}
