"""Regenerates test/fixtures/scipy/evaluation.json: scipy's exact binomial tail and Wilson interval, and a numpy
backtest written from the issue's definitions, for test/unit/significance.test.ts and test/unit/backtest.test.ts
(shared/significance.ts and shared/backtest.ts must agree to 1e-9).

    .venv/bin/pip install -r scripts/requirements-fixtures.txt && .venv/bin/python scripts/scipy_evaluation.py
"""
import json
import math
import pathlib

import numpy as np
import scipy
from scipy import stats

OUT = pathlib.Path(__file__).resolve().parent.parent / "test" / "fixtures" / "scipy" / "evaluation.json"
rng = np.random.default_rng(13)


def tail(k, n, p):
    # P(X >= k) = survival function at k - 1
    return {"k": k, "n": n, "p": p, "tail": float(stats.binom.sf(k - 1, n, p))}


def needed(n, p, alpha):
    ks = [k for k in range(n + 1) if stats.binom.sf(k - 1, n, p) < alpha]
    return {"n": n, "p": p, "alpha": alpha, "needed": ks[0] if ks else None}


def wilson(k, n):
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return {"k": k, "n": n, "low": float(ci.low), "high": float(ci.high)}


def backtest(name, close, next_close, prob, threshold=0.5, cost_bps=10.0, allow_short=False, ppy=252):
    close = np.asarray(close, dtype=float)
    next_close = np.asarray(next_close, dtype=float)
    prob = np.asarray(prob, dtype=float)
    pos = np.where(prob >= threshold, 1.0, -1.0 if allow_short else 0.0)
    prev = np.concatenate([[0.0], pos[:-1]])
    c = cost_bps / 10000.0
    r = next_close / close - 1.0
    s = pos * r - c * np.abs(pos - prev)
    b = r.copy()
    b[0] -= c
    equity = np.cumprod(1.0 + s)
    peak = np.maximum.accumulate(np.concatenate([[1.0], equity]))[1:]
    std = np.std(s)  # population (ddof=0)
    constant = bool(np.all(s == s[0]))
    return {
        "name": name,
        "close": close.tolist(),
        "nextClose": next_close.tolist(),
        "probabilities": prob.tolist(),
        "options": {"threshold": threshold, "costBps": cost_bps, "allowShort": allow_short, "periodsPerYear": ppy},
        "expected": {
            "totalReturn": float(np.prod(1.0 + s) - 1.0),
            "buyHoldReturn": float(np.prod(1.0 + b) - 1.0),
            "sharpe": 0.0 if constant else float(np.mean(s) / std * math.sqrt(ppy)),
            "maxDrawdown": float(np.max((peak - equity) / peak)),
            "trades": int(np.sum(pos != prev)),
            "exposure": float(np.mean(pos != 0)),
            "strategy": s.tolist(),
            "buyHold": b.tolist(),
        },
    }


def walk(n, start=1000.0, vol=0.015):
    closes = start * np.cumprod(1.0 + rng.normal(0.0003, vol, n + 1))
    return closes[:-1], closes[1:]


tails = [tail(17, 28, 16 / 28), tail(21, 28, 16 / 28), tail(20, 28, 16 / 28), tail(0, 28, 0.5), tail(28, 28, 0.5),
         tail(16, 28, 16 / 28), tail(5, 10, 0.5), tail(600, 1000, 0.52), tail(700, 1000, 0.52),
         tail(4000, 5000, 0.55), tail(2, 3, 0.999), tail(1, 1, 0.5), tail(36, 36, 0.5277777777777778)]
neededs = [needed(28, 16 / 28, 0.05), needed(28, 16 / 28, 0.01), needed(36, 19 / 36, 0.05), needed(138, 0.52, 0.05),
           needed(5, 0.5, 0.05), needed(4, 0.5, 0.05), needed(1000, 0.6, 0.001)]
wilsons = [wilson(17, 28), wilson(0, 28), wilson(28, 28), wilson(1, 1), wilson(500, 1000), wilson(3, 7)]

c1, n1 = walk(28)
c2, n2 = walk(250, vol=0.02)
c3, n3 = walk(40)
backtests = [
    backtest("random-28-long-flat", c1, n1, rng.random(28)),
    backtest("random-250-short-20bps", c2, n2, rng.random(250), cost_bps=20.0, allow_short=True),
    backtest("threshold-0.6-no-cost", c3, n3, rng.random(40), threshold=0.6, cost_bps=0.0),
    backtest("intraday-15m", c1, n1, rng.random(28), ppy=252 * 25),
    backtest("always-flat", c1, n1, [0.1] * 28),
    backtest("always-long", c1, n1, [0.9] * 28),
    backtest("constant-price-long", [100.0] * 10, [100.0] * 10, [0.9] * 10),
    backtest("constant-price-alternating", [100.0] * 10, [100.0] * 10, [0.9, 0.1] * 5, allow_short=True),
]

OUT.parent.mkdir(parents=True, exist_ok=True)
OUT.write_text(json.dumps({"scipy": scipy.__version__, "numpy": np.__version__, "tails": tails, "needed": neededs,
                           "wilson": wilsons, "backtests": backtests}, indent=1))
print(f"{len(tails)} tails, {len(neededs)} thresholds, {len(wilsons)} intervals, {len(backtests)} backtests, scipy {scipy.__version__}")
