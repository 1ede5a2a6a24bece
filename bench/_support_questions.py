"""Support questions the latency benches ask (shared by bench_ttft.py and bench_embed_concurrency.py)."""

QUESTIONS = [
    "How long do I have to return a sensor I don't need?",
    "What are your support hours?",
    "How do I get a refund for an annual plan?",
    "How long does shipping take to Germany?",
    "Which plans do you offer and what do they cost?",
    "Which integrations does Lumio support?",
    "How do I get started with my first hub?",
    "Is there a warranty on the sensors?",
    "Can I return a faulty sensor?",
    "How do I contact support by phone?",
    "Do you ship to the UK?",
    "What does the Business plan include?",
    "Can I get a refund after 30 days?",
    "Do you integrate with Slack?",
]
"""Distinct, answerable support questions (the browser and in-server TTFT runs, the embedding bench)."""
