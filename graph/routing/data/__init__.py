"""Labelled routing requests: `train.jsonl` (classifier examples) and `eval.jsonl` (held out)."""
