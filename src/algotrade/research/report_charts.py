"""Plotly figures of the research run report: heatmap, Pareto front, profiles, walk-forward.

The look (template, colours) is the backtest report's (backtest.report_charts).
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from algotrade.backtest.report_charts import DRAWDOWN_COLOR, EQUITY_COLOR, TEMPLATE
from algotrade.research.objectives import Objective
from algotrade.research.report_scores import Grid, Profile, Scored, numeric
from algotrade.research.walkforward import ParamScore, WalkForwardSummary

MUTED_COLOR = "#9ca3af"
MAX_PROFILE_COLUMNS = 3


def _label(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _axis_values(values: Sequence[Any]) -> list[Any]:
    """Numbers stay numbers (a numeric axis); anything else becomes text categories."""
    if all(numeric(value) is not None for value in values):
        return [numeric(value) for value in values]
    return [_label(value) for value in values]


def heatmap_figure(data: Grid, objective: Objective) -> go.Figure:
    """The best value per cell over the other parameters (a grid), or every evaluated point
    coloured by its value when the axes have too many distinct values for cells."""
    figure = go.Figure()
    scale = "Viridis" if objective.direction == "max" else "Viridis_r"
    if data.dense:
        figure.add_trace(
            go.Heatmap(
                x=[_label(v) for v in data.x],
                y=[_label(v) for v in data.y],
                z=data.z,
                colorscale=scale,
                colorbar={"title": {"text": html.escape(objective.metric)}},
                hovertemplate=(
                    f"{html.escape(data.x_name)} %{{x}}<br>{html.escape(data.y_name)} %{{y}}"
                    f"<br>{html.escape(objective.metric)} %{{z:.4g}}<extra></extra>"
                ),
                hoverongaps=False,
            )
        )
        figure.update_xaxes(type="category")
        figure.update_yaxes(type="category")
    else:
        xs, ys, zs = [], [], []
        for i, y in enumerate(data.y):
            for j, x in enumerate(data.x):
                if data.z[i][j] is not None:
                    xs.append(x)
                    ys.append(y)
                    zs.append(data.z[i][j])
        figure.add_trace(
            go.Scatter(
                x=_axis_values(xs),
                y=_axis_values(ys),
                mode="markers",
                marker={
                    "color": zs,
                    "colorscale": scale,
                    "showscale": True,
                    "size": 9,
                    "colorbar": {"title": {"text": html.escape(objective.metric)}},
                },
                hovertemplate="%{x}, %{y}: %{marker.color:.4g}<extra></extra>",
            )
        )
    figure.update_layout(
        template=TEMPLATE,
        title={
            "text": f"{html.escape(objective.label)} by {html.escape(data.x_name)} × "
            f"{html.escape(data.y_name)} (best over the other parameters)"
        },
        xaxis_title=html.escape(data.x_name),
        yaxis_title=html.escape(data.y_name),
        height=520,
        margin={"l": 70, "r": 20, "t": 60, "b": 60},
    )
    return figure


def pareto_figure(scored: Scored, front: Sequence[ParamScore]) -> go.Figure:
    """Every scored set on the first two objectives, the non-dominated ones highlighted."""
    first, second = scored.objectives[0], scored.objectives[1]
    front_keys = {json.dumps(score.params, sort_keys=True, default=str) for score in front}

    def trace(scores: Sequence[ParamScore], name: str, color: str, size: int) -> go.Scatter:
        pairs = [(scored.values(s), s) for s in scores]
        pairs = [(v, s) for v, s in pairs if v[0] is not None and v[1] is not None]
        return go.Scatter(
            x=[v[0] for v, _ in pairs],
            y=[v[1] for v, _ in pairs],
            mode="markers",
            name=name,
            marker={"color": color, "size": size},
            text=[html.escape(json.dumps(s.params, sort_keys=True)) for _, s in pairs],
            hovertemplate="%{text}<br>%{x:.4g}, %{y:.4g}<extra></extra>",
        )

    others = [
        s
        for s in scored.scores
        if json.dumps(s.params, sort_keys=True, default=str) not in front_keys
    ]
    figure = go.Figure()
    figure.add_trace(trace(others, "dominated", MUTED_COLOR, 7))
    ordered = sorted(front, key=lambda s: scored.values(s)[0] or 0.0)
    pareto = trace(ordered, "Pareto front", DRAWDOWN_COLOR, 11)
    pareto.update(mode="lines+markers", line={"color": DRAWDOWN_COLOR, "width": 1, "dash": "dot"})
    figure.add_trace(pareto)
    figure.update_layout(
        template=TEMPLATE,
        title={"text": f"Pareto front: {html.escape(first.label)} vs {html.escape(second.label)}"},
        xaxis_title=html.escape(first.label),
        yaxis_title=html.escape(second.label),
        height=480,
        margin={"l": 70, "r": 20, "t": 60, "b": 60},
        legend={"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right", "yanchor": "bottom"},
    )
    return figure


def profiles_figure(profiles: Sequence[Profile], objective: Objective) -> go.Figure:
    """One panel per parameter: the metric with the other parameters held at the best set's
    values (solid) and the best over the others (dotted)."""
    columns = min(MAX_PROFILE_COLUMNS, len(profiles))
    rows = -(-len(profiles) // columns)
    figure = make_subplots(
        rows=rows,
        cols=columns,
        subplot_titles=[html.escape(profile.name) for profile in profiles],
        horizontal_spacing=0.08,
        vertical_spacing=0.16,
    )
    for number, profile in enumerate(profiles):
        row, col = number // columns + 1, number % columns + 1
        x = _axis_values(profile.values)
        figure.add_trace(
            go.Scatter(
                x=x,
                y=profile.envelope,
                mode="lines+markers",
                name="best over the others",
                legendgroup="envelope",
                showlegend=number == 0,
                line={"color": MUTED_COLOR, "dash": "dot"},
                connectgaps=True,
            ),
            row=row,
            col=col,
        )
        figure.add_trace(
            go.Scatter(
                x=x,
                y=profile.held,
                mode="lines+markers",
                name="others at the best set",
                legendgroup="held",
                showlegend=number == 0,
                line={"color": EQUITY_COLOR},
                connectgaps=True,
            ),
            row=row,
            col=col,
        )
    figure.update_layout(
        template=TEMPLATE,
        title={"text": f"{html.escape(objective.label)} along each parameter"},
        height=max(320, 300 * rows),
        margin={"l": 60, "r": 20, "t": 80, "b": 40},
        legend={"orientation": "h", "y": 1.06, "x": 1, "xanchor": "right", "yanchor": "bottom"},
    )
    return figure


def walkforward_figure(summary: WalkForwardSummary) -> go.Figure:
    """In-sample vs out-of-sample value of each fold's winner."""
    folds = [f"fold {result.fold.index}" for result in summary.results]
    figure = go.Figure()
    figure.add_trace(
        go.Bar(
            x=folds,
            y=[result.is_value for result in summary.results],
            name="in sample",
            marker_color=MUTED_COLOR,
        )
    )
    figure.add_trace(
        go.Bar(
            x=folds,
            y=[result.oos_value for result in summary.results],
            name="out of sample",
            marker_color=EQUITY_COLOR,
        )
    )
    figure.update_layout(
        template=TEMPLATE,
        barmode="group",
        title={"text": f"Walk-forward: {html.escape(summary.objective.label)} per fold"},
        height=380,
        margin={"l": 60, "r": 20, "t": 60, "b": 40},
    )
    return figure
