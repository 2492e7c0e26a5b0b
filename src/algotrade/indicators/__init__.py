"""Incremental indicators: O(1) per update, float math, the same objects in backtest and live."""

from algotrade.indicators.atr import ATR
from algotrade.indicators.bollinger import Bollinger, BollingerBands
from algotrade.indicators.ema import EMA
from algotrade.indicators.macd import MACD, MACDValue
from algotrade.indicators.rsi import RSI
from algotrade.indicators.sma import SMA, ExactCrossover, ExactSMA

__all__ = [
    "ATR",
    "EMA",
    "MACD",
    "RSI",
    "SMA",
    "Bollinger",
    "BollingerBands",
    "ExactCrossover",
    "ExactSMA",
    "MACDValue",
]
