"""Venue adapters. Each is picked by name from ``registry`` so optional dependencies load lazily."""
