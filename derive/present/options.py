"""What a page shows: its precision and every display limit, as one frozen value."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class RenderOptions:
    """Every display limit of a page, and its precision (None: the example's own)."""

    precision: int | None = None
    interactive: bool = True
    """Pages recompute their numbers in the browser from the reader's edits (a generated script
    per example, data attributes on every displayed quantity); False gives static pages."""
    detailed_steps: int = 3
    """Training steps shown with every number; later steps appear in the loss table only."""
    loss_table_rows: int = 100
    step_table_weights: int = 6
    """Weight entries shown beside the loss in the per-step table (all are in the JSON)."""
    elide_beyond: int = 10
    """Rows or columns shown in full; a longer side shows its first and last entries."""
    elide_head: int = 4
    elide_tail: int = 2
    max_terms: int = 6
    """Terms of a hand calculation written out; longer sums show the first and last few."""
    terms_per_line: int = 2
    max_units: int = 8
    """Units drawn per layer of the network diagram."""
    max_labelled_edges: int = 20
    """Between two layers of the network diagram with at most this many edges (weights and
    biases), each value is written on its edge; denser layers show it on hover and focus."""
    edge_precision: int = 2
    """Decimals of the weights written on the diagram's edges."""


DEFAULTS = RenderOptions()
"""The display limits used unless a caller gives others."""
