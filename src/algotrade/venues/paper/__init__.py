"""The paper venue: simulated matching against market data (backtests and paper bots)."""

from algotrade.venues.paper.config import PaperVenueConfig
from algotrade.venues.paper.execution import PaperVenue

__all__ = ["PaperVenue", "PaperVenueConfig"]
