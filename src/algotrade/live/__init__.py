"""Driving the engine from asynchronous feeds (paper and live bots)."""
