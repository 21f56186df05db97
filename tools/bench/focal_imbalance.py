"""Focal loss against ``binary:logistic`` (plain and with ``scale_pos_weight``) on an
imbalanced binary problem, XGBoost, same trees and rounds; held-out metrics.

    python tools/bench/focal_imbalance.py                 # 1 % positives, 3 seeds
    python tools/bench/focal_imbalance.py --pos 0.005 --seeds 5 --rounds 300

Data: ``--rows`` training and as many test rows, 30 features of which 8 carry the signal (a
sparse non-linear score whose top ``--pos`` fraction, blurred by label noise, is positive).
Models (hist, depth 4, eta 0.1, ``--rounds`` rounds, every one from the same starting score,
the log-odds of the training base rate, as ``base_margin``):
- ``logistic``: ``binary:logistic``;
- ``logistic + spw``: ``binary:logistic`` with ``scale_pos_weight`` = negatives / positives;
- ``focal α, γ``: ``losskit.xgboost.objective("focal", alpha=α, gamma=γ)``.
Metrics on the test rows: average precision (area under the precision-recall curve, the
metric that matters under imbalance), ROC AUC, the best F1 over thresholds, and the log loss
of the predicted probabilities (focal and spw are not calibrated: shown, not ranked on).
Mean ± standard deviation over ``--seeds`` data sets.
"""

from __future__ import annotations

import argparse

import numpy as np


def make(rows: int, pos: float, seed: int):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(2 * rows, 30)).astype(np.float32)
    s = (X[:, 0] * X[:, 1] + np.sin(2 * X[:, 2]) + 0.8 * X[:, 3] - 0.6 * np.abs(X[:, 4])
         + 0.5 * X[:, 5] * (X[:, 6] > 0) + 0.3 * X[:, 7] ** 2)
    s = s + rng.normal(scale=0.8, size=2 * rows)
    y = (s > np.quantile(s, 1 - pos)).astype(np.float32)
    return X[:rows], y[:rows], X[rows:], y[rows:]


def average_precision(y: np.ndarray, p: np.ndarray) -> float:
    order = np.argsort(-p, kind="stable")
    y = y[order]
    tp = np.cumsum(y)
    precision = tp / np.arange(1, len(y) + 1)
    return float(np.sum(precision * y) / max(y.sum(), 1))


def roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    ranks = np.empty(len(p))
    order = np.argsort(p, kind="stable")
    ranks[order] = np.arange(1, len(p) + 1)
    # average ranks of ties
    _, inv, counts = np.unique(p, return_inverse=True, return_counts=True)
    sums = np.bincount(inv, weights=ranks)
    ranks = (sums / counts)[inv]
    npos = y.sum()
    nneg = len(y) - npos
    return float((ranks[y > 0.5].sum() - npos * (npos + 1) / 2) / (npos * nneg))


def best_f1(y: np.ndarray, p: np.ndarray) -> float:
    order = np.argsort(-p, kind="stable")
    y = y[order]
    tp = np.cumsum(y)
    k = np.arange(1, len(y) + 1)
    f1 = 2 * tp / (k + y.sum())
    return float(f1.max())


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, 1e-15, 1 - 1e-15)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--pos", type=float, default=0.01)
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import losskit
    import losskit.xgboost as lx
    import xgboost as xgb

    losskit.set_num_threads(args.threads)
    base = {"tree_method": "hist", "max_depth": 4, "eta": 0.1, "nthread": args.threads, "seed": 0}
    models = {
        "logistic": ({"objective": "binary:logistic"}, None),
        "logistic + spw": ({"objective": "binary:logistic"}, "spw"),
        "focal α=0.25, γ=2": ({}, lx.objective("focal", alpha=0.25, gamma=2.0)),
        "focal α=0.75, γ=2": ({}, lx.objective("focal", alpha=0.75, gamma=2.0)),
        "focal α=-1 (none), γ=1": ({}, lx.objective("focal", alpha=-1.0, gamma=1.0)),
    }
    results: dict[str, list] = {k: [] for k in models}
    for seed in range(args.seeds):
        Xtr, ytr, Xte, yte = make(args.rows, args.pos, seed)
        rate = float(ytr.mean())
        s0 = np.log(rate / (1 - rate))
        dtr = xgb.DMatrix(Xtr, ytr, base_margin=np.full(len(ytr), s0), nthread=args.threads)
        dte = xgb.DMatrix(Xte, yte, base_margin=np.full(len(yte), s0), nthread=args.threads)
        for name, (params, obj) in models.items():
            p = {**base, **params}
            if obj == "spw":
                p["scale_pos_weight"] = (1 - rate) / rate
                obj = None
            bst = xgb.train(p, dtr, args.rounds, obj=obj)
            margin = bst.predict(dte, output_margin=True)
            prob = 1 / (1 + np.exp(-margin.astype(np.float64)))
            results[name].append((average_precision(yte, prob), roc_auc(yte, prob), best_f1(yte, prob),
                                  log_loss(yte, prob)))
    print(f"rows {args.rows} train + {args.rows} test, positives {100 * args.pos:.2f} %, {args.rounds} rounds, "
          f"{args.seeds} seeds (mean ± sd)\n")
    print("| model | average precision | ROC AUC | best F1 | log loss |")
    print("|---|---|---|---|---|")
    for name, rs in results.items():
        a = np.array(rs)
        m, sd = a.mean(0), a.std(0)
        print(f"| {name} | {m[0]:.4f} ± {sd[0]:.4f} | {m[1]:.4f} ± {sd[1]:.4f} | {m[2]:.4f} ± {sd[2]:.4f} | "
              f"{m[3]:.4f} ± {sd[3]:.4f} |")
    best = max(results, key=lambda k: np.mean([r[0] for r in results[k]]))
    print(f"\nbest average precision: {best}")


if __name__ == "__main__":
    main()
