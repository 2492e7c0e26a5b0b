"""Backtest runner, metrics and reports."""
