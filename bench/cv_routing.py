"""Choose the intent classifier by cross-validation on the TRAINING set only (eval.jsonl is not read).

Run: .venv/bin/python bench/cv_routing.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from _routing_common import MemoEncoder, load_embedder
from sklearn.model_selection import RepeatedStratifiedKFold

from graph.routing import ClassifierConfig, IntentClassifier, decide_route, load_examples

CONFIGS: dict[str, ClassifierConfig] = {
    "logreg C=5": ClassifierConfig(kind="logreg", use_keywords=False, c=5),
    "logreg C=20": ClassifierConfig(kind="logreg", use_keywords=False, c=20),
    "logreg C=100": ClassifierConfig(kind="logreg", use_keywords=False, c=100),
    "logreg+kw0.3 C=20": ClassifierConfig(kind="logreg", keyword_weight=0.3, c=20),
    "logreg+kw0.5 C=2": ClassifierConfig(kind="logreg", keyword_weight=0.5, c=2),
    "logreg+kw0.5 C=5": ClassifierConfig(kind="logreg", keyword_weight=0.5, c=5),
    "logreg+kw0.7 C=5": ClassifierConfig(kind="logreg", keyword_weight=0.7, c=5),
    "logreg+kw0.5 C=20": ClassifierConfig(kind="logreg", keyword_weight=0.5, c=20),
    "logreg+kw0.5 C=100": ClassifierConfig(kind="logreg", keyword_weight=0.5, c=100),
    "logreg+kw1.0 C=20": ClassifierConfig(kind="logreg", keyword_weight=1.0, c=20),
    "knn k=7": ClassifierConfig(kind="knn", use_keywords=False, k=7),
    "knn+kw0.5 k=7": ClassifierConfig(kind="knn", k=7),
    "knn+kw0.5 k=15": ClassifierConfig(kind="knn", k=15),
    "centroid": ClassifierConfig(kind="centroid", use_keywords=False),
    "centroid+kw0.5": ClassifierConfig(kind="centroid"),
    "knn+centroid+kw0.5": ClassifierConfig(kind="knn+centroid"),
}


def main() -> None:
    examples = load_examples("train")
    labels = np.asarray([example.route for example in examples])
    encoder = MemoEncoder(load_embedder())
    encoder.encode([example.text for example in examples])
    splitter = RepeatedStratifiedKFold(n_splits=5, n_repeats=2, random_state=0)
    folds = list(splitter.split(np.zeros(len(examples)), labels))
    print(f"{len(examples)} training examples, {len(folds)} folds (5-fold x 2 repeats)\n")
    print(f"{'configuration':<22} {'classifier':>10} {'+rules':>8} {'fit s':>7}")
    results: dict[str, tuple[float, float]] = {}
    for name, config in CONFIGS.items():
        correct = full_correct = 0
        fit_seconds = 0.0
        for train_index, test_index in folds:
            started = time.perf_counter()
            classifier = IntentClassifier.from_examples([examples[i] for i in train_index], encoder, config)
            fit_seconds += time.perf_counter() - started
            held_out = [examples[i] for i in test_index]
            predictions = classifier.predict_batch([example.text for example in held_out])
            correct += sum(p.route == e.route for p, e in zip(predictions, held_out, strict=True))
            full_correct += sum(decide_route(e.text, classifier).route == e.route for e in held_out)
        total = sum(len(test) for _, test in folds)
        results[name] = (full_correct / total, correct / total)
        print(f"{name:<22} {correct / total:>10.3f} {full_correct / total:>8.3f} {fit_seconds / len(folds):>7.3f}")
    best = max(results, key=lambda name: results[name])
    full, alone = results[best]
    print(f"\nbest on cross-validation (full pipeline, then classifier): {best} ({full:.3f} / {alone:.3f})")


if __name__ == "__main__":
    main()
