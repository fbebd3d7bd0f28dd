"""Regenerates test/fixtures/talib/*.json: the 27 features computed by real TA-Lib (plus numpy for the derived
columns) on the reference CSV and on synthetic series, for test/unit/features.test.ts.

    python3 -m venv .venv && .venv/bin/pip install -r scripts/requirements-fixtures.txt
    .venv/bin/python scripts/talib_reference.py
"""
import csv
import json
import math
import pathlib

import numpy as np
import talib

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "test" / "fixtures" / "talib"
REFERENCE = ROOT / "samples" / "Quote-Equity-RELIANCE-EQ-12-11-2024-to-12-11-2025.csv"


def read_reference():
    """The NSE export, read independently of trendcast's parser: trimmed lower-case headers, grouped digits."""
    with open(REFERENCE, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    header = [h.strip().lower() for h in rows[0]]
    col = {name: header.index(name) for name in ("open", "high", "low", "close", "volume")}
    data = [[float(r[col[c]].replace(",", "")) for c in ("open", "high", "low", "close", "volume")] for r in rows[1:] if r]
    data.reverse()  # newest first in the file
    return np.array(data, dtype=np.float64).T


def synthetic(seed, n, flat=(), zero_volume=()):
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.015, n)))
    for a, b in flat:
        close[a:b] = close[a]
    open_ = np.concatenate([[close[0]], close[:-1]]) * (1 + rng.normal(0, 0.003, n))
    for a, b in flat:
        open_[a:b] = close[a]
    spread = np.abs(rng.normal(0, 0.01, n)) * close
    for a, b in flat:
        spread[a:b] = 0
    high = np.maximum(open_, close) + spread
    low = np.minimum(open_, close) - spread * 0.8
    volume = np.round(rng.lognormal(13, 0.5, n))
    for i in zero_volume:
        volume[i] = 0
    return np.array([open_, high, low, close, volume])


def volume_change(v):
    out = np.full(len(v), np.nan)
    for i in range(1, len(v)):
        out[i] = (0.0 if v[i] == 0 else 1.0) if v[i - 1] == 0 else v[i] / v[i - 1] - 1
    return out


def features(o, h, l, c, v):
    sma20 = talib.SMA(c, 20)
    ema21 = talib.EMA(c, 21)
    macd, signal, hist = talib.MACD(c, 12, 26, 9)
    upper, middle, lower = talib.BBANDS(c, 20, 2, 2, 0)
    returns = np.concatenate([[np.nan], c[1:] / c[:-1] - 1])
    log_returns = np.concatenate([[np.nan], np.log(c[1:] / c[:-1])])
    volatility = np.full(len(c), np.nan)
    for i in range(20, len(c)):
        volatility[i] = np.std(returns[i - 19 : i + 1], ddof=1)
    return {
        "Open": o, "High": h, "Low": l, "Close": c, "Volume": v,
        "SMA_10": talib.SMA(c, 10), "SMA_20": sma20, "SMA_50": talib.SMA(c, 50),
        "EMA_12": talib.EMA(c, 12), "EMA_26": talib.EMA(c, 26), "EMA_21": ema21,
        "RSI": talib.RSI(c, 14), "MACD": macd, "MACD_signal": signal, "MACD_diff": hist,
        "BB_upper": upper, "BB_middle": middle, "BB_lower": lower, "BB_width": (upper - lower) / middle,
        "ATR": talib.ATR(h, l, c, 14), "ADX": talib.ADX(h, l, c, 14),
        "Returns": returns, "Log_Returns": log_returns, "Volume_Change": volume_change(v),
        "Volatility": volatility,
        "Price_vs_SMA20": 100 * (c - sma20) / sma20, "Price_vs_EMA21": 100 * (c - ema21) / ema21,
    }


def dump(name, series):
    o, h, l, c, v = series
    feats = features(o, h, l, c, v)
    clean = lambda a: [None if math.isnan(x) else float(x) for x in a]
    doc = {
        "name": name,
        "talib": talib.__version__,
        "bars": {"open": clean(o), "high": clean(h), "low": clean(l), "close": clean(c), "volume": clean(v)},
        "features": {k: clean(a) for k, a in feats.items()},
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}.json").write_text(json.dumps(doc))
    print(f"{name}: {len(c)} bars")


dump("reliance", read_reference())
dump("random-walk", synthetic(1, 400))
dump("flat-stretches", synthetic(2, 300, flat=[(60, 90), (150, 152)], zero_volume=[70, 71, 200]))
dump("long", synthetic(3, 1000))
