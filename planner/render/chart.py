"""Text figures drawn from :class:`planner.report_data.RangeChart` (the Helix layer map)."""

from __future__ import annotations

from planner.report_data import RangeChart


def range_chart_lines(chart: RangeChart, width: int | None = None) -> list[str]:
    """The chart as text rows no wider than ``width`` (labels included) when given.

    Each character column stands for ``ceil(length / columns)`` positions, so a narrow terminal gets a coarser
    map rather than wrapped rows; the header marks every tenth position with its tens digit.
    """
    if chart.length <= 0:
        return []
    label_w = max((len(s.label) for s in chart.spans), default=4)
    room = chart.max_columns if width is None else max(10, min(chart.max_columns, width - label_w - 1))
    per_col = max(1, -(-chart.length // room))
    cols = -(-chart.length // per_col)
    header = " " * (label_w + 1) + "".join(
        str((c * per_col) // 10 % 10) if (c * per_col) % 10 == 0 else " " for c in range(cols)
    )
    rows = [header]
    for s in chart.spans:
        line = "".join(s.mark if s.start <= c * per_col < s.end else chart.empty for c in range(cols))
        rows.append(f"{s.label:<{label_w}} {line}")
    if per_col > 1:
        rows.append(f"(one column = {per_col} {chart.unit}, marked by the first of them)")
    return rows
