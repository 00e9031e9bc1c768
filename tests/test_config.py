"""Cache configuration from YAML and dicts, including hostile input."""

import dejacache
import pytest
from dejacache import ConfigError, evaluation, postprocess, preprocess

yaml = pytest.importorskip("yaml")

GOOD = """
max_entries: 5000
ttl: 3600
eviction: lfu
namespace: app
semantic:
  threshold: 0.93
  top_k: 4
  preprocess: {name: concat_all_queries, context_len: 3, skip_roles: [system]}
  evaluator:
    name: all_of
    of:
      - cosine
      - {name: time_decay, evaluator: cosine, max_age: 86400}
      - name: weighted
        of:
          - {evaluator: cosine, weight: 1}
          - {evaluator: exact_match, weight: 0.5}
  postprocess: {name: temperature_softmax, temperature: 0.2, seed: 3}
next_cache:
  max_entries: 100000
"""


def write(tmp_path, text, name="cache.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_good_config_builds_every_stage(tmp_path, monkeypatch):
    built = []
    monkeypatch.setattr("dejacache._semantic.tier.SemanticTier", lambda cfg, **collaborators: built.append(cfg) or None)
    kw = dejacache.load_config(write(tmp_path, GOOD))
    assert kw["max_entries"] == 5000 and kw["ttl"] == 3600.0 and kw["eviction"] == "lfu"
    sem = kw["semantic"]
    assert sem.threshold == 0.93 and sem.top_k == 4
    assert isinstance(sem.preprocess, preprocess.ConcatAllQueries)
    assert sem.preprocess.context_len == 3 and sem.preprocess.skip_roles == ("system",)
    assert isinstance(sem.evaluator, evaluation.AllOf)
    assert isinstance(sem.evaluator.evaluators[1], evaluation.TimeDecay)
    assert isinstance(sem.evaluator.evaluators[2], evaluation.Weighted)
    assert isinstance(sem.postprocess, postprocess.TemperatureSoftmax)
    assert kw["next_cache"] == {"max_entries": 100000}  # plain keyword arguments; Cache builds the level
    cache = dejacache.Cache.from_config(write(tmp_path, GOOD))
    assert cache.max_entries == 5000 and built
    assert isinstance(cache._next, dejacache.Cache) and cache._next.max_entries == 100000


def test_dict_config_and_semantic_true(monkeypatch):
    kw = dejacache.load_config({"ttl": 5, "semantic": True})
    assert kw == {"ttl": 5.0, "semantic": True}
    assert dejacache.load_config({"semantic": False}) == {"semantic": None}


@pytest.mark.parametrize(
    "text, words",
    [
        ("semantic: !!python/object/apply:os.system ['echo pwned']", "not a valid"),
        ("max_entries: !!python/name:os.system", "not a valid"),
        ("semantic:\n  evaluator: {name: os.system}", "unknown evaluator 'os.system'"),
        ("semantic:\n  preprocess: __import__", "unknown pre-processor"),
        ("semantic:\n  postprocess: {name: first, extra: 1}", "takes no parameter 'extra'"),
        ("semantic:\n  threshold: high", "threshold must be a number"),
        ("semantic:\n  threshold: 2", "threshold must be a number"),
        ("semantic:\n  top_k: 1.5", "top_k must be a whole number"),
        ("semantic:\n  preprocess: {name: concat_all_queries, context_len: '3'}", "context_len must be a whole number"),
        ("semantic:\n  preprocess: {name: last_content_without_prompt, prompts: [1, 2]}", "prompts[0] must be"),
        ("semantic:\n  preprocess: context_process", "needs a Python callable"),
        ("semantic:\n  evaluator: {name: weighted, of: [{evaluator: cosine}]}", "exactly 'evaluator' and 'weight'"),
        ("semantic:\n  evaluator: [cosine]", "must be a stage name or a mapping"),
        ("semantic:\n  colour: blue", "unknown key 'colour'"),
        ("max_entries: -1", "max_entries must be a whole number"),
        ("ttl: .nan", "ttl must be a number"),
        ("eviction: random", "eviction must be one of"),
        ("key_func: os.system", "unknown setting 'key_func'"),
        ("- a\n- b", "must be a mapping"),
        ("a: &x [1, 2]\nb: *x", "aliases"),
        ("semantic: {threshold: 0.9", "not a valid"),
        ("semantic:\n  evaluator: {name: calibrated, model: /nonexistent/model.json}", "semantic.evaluator"),
        ("semantic:\n  evaluator: {name: calibrated, model: 3}", "model must be a non-empty string"),
    ],
)
def test_hostile_or_wrong_yaml_raises_clear_config_error(tmp_path, text, words):
    with pytest.raises(ConfigError) as info:
        dejacache.load_config(write(tmp_path, text))
    assert words in str(info.value)
    assert isinstance(info.value, ValueError)


def test_billion_laughs_and_deep_nesting_are_refused(tmp_path):
    lol = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(9)
    )
    with pytest.raises(ConfigError, match="aliases"):
        dejacache.load_config(write(tmp_path, lol))
    with pytest.raises(ConfigError, match="nested more than"):
        dejacache.load_config(write(tmp_path, "x: " + "[" * 5000 + "]" * 5000))
    deep_levels = "".join("  " * i + "next_cache:\n" for i in range(12)) + "  " * 12 + "ttl: 1\n"
    with pytest.raises(ConfigError, match="levels"):
        dejacache.load_config(write(tmp_path, deep_levels))


def test_huge_file_is_refused_before_parsing(tmp_path):
    p = write(tmp_path, "ttl: 1\n" + "# padding\n" * 40_000)
    with pytest.raises(ConfigError, match="at most"):
        dejacache.load_config(p)


def test_missing_file_and_wrong_argument(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        dejacache.load_config(tmp_path / "nope.yaml")
    with pytest.raises(TypeError):
        dejacache.load_config(42)


def test_yaml_config_builds_a_working_semantic_cache(tmp_path):
    pytest.importorskip("dejacache.embedders")
    text = """
namespace: app
semantic:
  embedder: {name: hashing, dim: 256}
  vector_store: {name: index, kind: flat}
  normalize: true
  evaluator: {name: all_of, of: [cosine, numbers_agree, token_sequence]}
  postprocess: {name: random, seed: 1}
  top_k: 3
next_cache:
  max_entries: 100
"""
    cache = dejacache.Cache.from_config(write(tmp_path, text))
    assert cache._semantic.threshold == 0.98  # the strict default of the hashing fallback
    assert cache._semantic.index.index.kind == "flat" and cache._semantic.embedder.dim == 256
    req = {"model": "m", "messages": [{"role": "user", "content": "How do I learn Rust?"}]}
    cache.put(req, {"a": 1})
    hit = cache.get({"model": "m", "messages": [{"role": "user", "content": "how do i learn rust"}]})
    assert hit is not None and hit.source == "semantic"
    assert cache.get({"model": "m", "messages": [{"role": "user", "content": "How do I learn Ruby?"}]}) is None
    assert cache._next.get(req, namespace="app").response == {"a": 1}
