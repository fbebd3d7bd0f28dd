"""Regenerates test/fixtures/sklearn/metrics.json: scikit-learn's own metrics on labelled probabilities, for
test/unit/metrics.test.ts (shared/metrics.ts must agree to 1e-12).

    .venv/bin/pip install -r scripts/requirements-fixtures.txt && .venv/bin/python scripts/sklearn_metrics.py
"""
import json
import pathlib

import numpy as np
import sklearn
from sklearn import metrics as m

OUT = pathlib.Path(__file__).resolve().parent.parent / "test" / "fixtures" / "sklearn" / "metrics.json"
rng = np.random.default_rng(0)


def case(name, y, p):
    y = np.asarray(y, dtype=int)
    p = np.asarray(p, dtype=float)
    pred = (p > 0.5).astype(int)
    both = len(set(y.tolist())) == 2
    tn, fp, fn, tp = m.confusion_matrix(y, pred, labels=[0, 1]).ravel()
    return {
        "name": name,
        "labels": y.tolist(),
        "probabilities": p.tolist(),
        "expected": {
            "accuracy": m.accuracy_score(y, pred),
            "auc": m.roc_auc_score(y, p) if both else None,
            "precision": m.precision_score(y, pred, zero_division=0),
            "recall": m.recall_score(y, pred, zero_division=0),
            "f1": m.f1_score(y, pred, zero_division=0),
            "mcc": m.matthews_corrcoef(y, pred),
            "balancedAccuracy": m.balanced_accuracy_score(y, pred),
            "confusion": {"tp": int(tp), "fp": int(fp), "tn": int(tn), "fn": int(fn)},
        },
    }


cases = [
    case("random-28", rng.integers(0, 2, 28), rng.random(28)),
    case("random-500", rng.integers(0, 2, 500), rng.random(500)),
    case("tied-scores", rng.integers(0, 2, 60), np.round(rng.random(60), 1)),
    case("constant-up", [1] * 16 + [0] * 12, [0.61] * 28),
    case("constant-down", [1] * 16 + [0] * 12, [0.2] * 28),
    case("perfect", [0, 0, 1, 1, 0, 1], [0.1, 0.2, 0.9, 0.8, 0.3, 0.7]),
    case("inverted", [0, 0, 1, 1], [0.9, 0.8, 0.1, 0.2]),
    case("at-threshold", [0, 1, 1, 0], [0.5, 0.5, 0.51, 0.49]),
]
OUT.parent.mkdir(parents=True, exist_ok=True)
OUT.write_text(json.dumps({"sklearn": sklearn.__version__, "cases": cases}, indent=1))
print(f"{len(cases)} cases, scikit-learn {sklearn.__version__}")
