"""The subjects the ``dejacache bench`` workloads ask about (shared by ``bench`` and
``bench_semantic``)."""

from __future__ import annotations

#: The semantic workload asks about all of them; the chat workload about the first eleven and "testing".
TOPICS = (
    "python",
    "rust",
    "databases",
    "caching",
    "networking",
    "statistics",
    "linear algebra",
    "compilers",
    "operating systems",
    "cryptography",
    "distributed systems",
    "unit testing",
    "machine learning",
    "web security",
    "cloud computing",
    "version control",
    "functional programming",
    "data visualisation",
    "quantum computing",
    "computer graphics",
    "concurrency",
    "garbage collection",
    "search engines",
    "recommender systems",
    "natural language processing",
    "computer vision",
    "embedded systems",
    "game development",
    "blockchains",
    "mobile apps",
    "accessibility",
    "technical writing",
)
