"""Issue 15, Python side: hostile meta, Mapping requests, odd key_func keys, non-finite answers,
huge numbers and hostile config files each get a clear error (or are served), never a crash."""

from __future__ import annotations

import collections
import json
import logging
import math
import os
import types
from collections.abc import Mapping

import dejacache
import pytest
from conftest import chat, run_threads
from dejacache import Semantic
from dejacache.embedders import HashingEmbedder


def semantic_cache(**kw) -> dejacache.Cache:
    return dejacache.Cache(semantic=Semantic(embedder=HashingEmbedder(dim=64), threshold=0.8), **kw)


# -- item 3: meta ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "meta, message",
    [
        ({"cost_usd": "0.01"}, r'meta\["cost_usd"\]'),
        ({"latency_s": math.nan}, r'meta\["latency_s"\]'),
        ({"tokens": math.inf}, r'meta\["tokens"\]'),
        ({"tokens": True}, r'meta\["tokens"\]'),
        ({"latency_s": -1.0}, r'meta\["latency_s"\]'),
        (["x"], "meta must be a dict"),
        ("cost", "meta must be a dict"),
        ({"note": {1, 2}}, r'meta\["note"\]'),
        ({"note": math.nan}, r'meta\["note"\]'),
        ({1: 2}, "meta keys"),
    ],
)
def test_bad_meta_is_refused_at_put_and_loses_nothing(meta, message):
    c = dejacache.Cache()
    c.put(chat(), {"a": 1}, meta={"latency_s": 0.5})
    with pytest.raises((TypeError, ValueError), match=message):
        c.put(chat(), {"a": 2}, meta=meta)
    with pytest.raises((TypeError, ValueError), match=message):
        c.put_many([(chat("other"), {"b": 1}), (chat(), {"a": 3}, meta)])
    assert c.get(chat()).response == {"a": 1}
    assert c.get(chat("other")) is None  # put_many stored nothing


def test_good_meta_counts_and_unknown_fields_are_kept_but_not_counted():
    c = dejacache.Cache()
    c.put(chat(), {"a": 1}, meta={"latency_s": 0.5, "cost_usd": 0.01, "tokens": 12, "model": "gpt-4o", "n": [1]})
    hit = c.get(chat())
    assert hit.meta["model"] == "gpt-4o"
    s = c.stats()
    assert (s["latency_saved_s"], s["cost_saved_usd"], s["tokens_saved"]) == (0.5, 0.01, 12)


@pytest.mark.parametrize(
    "stored_meta",
    [
        b'{"cost_usd":"0.01"}',
        b'{"latency_s":null}',
        b'["x"]',
        b'"m"',
        b'{"tokens":{"a":1}}',
        b"7",
        b'{"tokens":1e308,"latency_s":1e308}',
    ],
)
def test_bad_meta_already_stored_is_served_and_never_fails_a_read(stored_meta, caplog):
    """An entry written by an older version, or by another process sharing the store."""
    c = dejacache.Cache()
    key = c.key(chat())
    blob = b'{"v":1,"r":{"a":1},"m":' + stored_meta + b"}"
    c._store.put(key, "default", blob, c._clock(), None)
    with caplog.at_level(logging.DEBUG, logger="dejacache"):
        assert c.get(chat()).response == {"a": 1}
        assert c.call(chat(), lambda r: {"provider": True}) == {"a": 1, "cache": True}
    s = c.stats()
    assert s["hits"] == 2
    assert all(math.isfinite(s[f]) for f in ("latency_saved_s", "cost_saved_usd", "tokens_saved"))


def test_store_as_with_bad_meta_returns_the_answer_unstored():
    c = dejacache.Cache()
    out = c.call(chat(), lambda r: {"a": 1}, store_as=lambda resp, lat: (resp, {"cost_usd": "free"}))
    assert out == {"a": 1}
    assert len(c) == 0


# -- item 4: controls inside any Mapping request ------------------------------------------------


class Req(Mapping):
    """A read-only request type of an application (not a dict)."""

    def __init__(self, data):
        self._d = dict(data)

    def __getitem__(self, k):
        return self._d[k]

    def __iter__(self):
        return iter(self._d)

    def __len__(self):
        return len(self._d)


class DictSub(dict):
    pass


MAPPINGS = [collections.OrderedDict, DictSub, types.MappingProxyType, Req]


@pytest.mark.parametrize("kind", MAPPINGS, ids=lambda k: k.__name__)
def test_in_request_namespace_is_honoured_for_every_mapping(kind):
    # key_func lets any request type be keyed; the namespace must still come from the request.
    c = dejacache.Cache(key_func=lambda r: "k:" + r["messages"][0]["content"])
    c.put(kind({**chat("x"), "cache": {"namespace": "tenant-b"}}), {"secret": "b"})
    assert c.get(chat("x")) is None
    assert c.get(chat("x"), namespace="tenant-b").response == {"secret": "b"}
    assert c.get(kind({**chat("x"), "cache": {"namespace": "tenant-a"}})) is None
    assert c.call(kind({**chat("x"), "cache": {"namespace": "tenant-a"}}), lambda r: {"own": "a"}) == {"own": "a"}
    assert c.get(chat("x"), namespace="tenant-a").response == {"own": "a"}


@pytest.mark.parametrize("kind", MAPPINGS, ids=lambda k: k.__name__)
def test_in_request_caching_false_and_no_store_are_honoured_for_every_mapping(kind):
    c = dejacache.Cache(key_func=lambda r: "k:" + r["messages"][0]["content"])
    c.put(kind({**chat("x"), "caching": False}), {"a": 1})
    c.put(kind({**chat("y"), "cache": {"no-store": True}}), {"a": 1})
    assert len(c) == 0
    c.put(chat("z"), {"z": 1})
    assert c.get(kind({**chat("z"), "cache": {"no-cache": True}})) is None


@pytest.mark.parametrize("kind", MAPPINGS, ids=lambda k: k.__name__)
def test_mapping_requests_are_keyed_like_the_equal_dict_or_refused(kind):
    c = dejacache.Cache()
    plain = {**chat("x"), "cache": {"namespace": "tenant-b"}}
    try:
        key = c.key(kind(plain))
    except TypeError as exc:
        assert "mappingproxy" in str(exc) or "Req" in str(exc)
        # refused for keying: call still reaches the provider and stores nothing anywhere
        assert c.call(kind(plain), lambda r: {"p": 1}) == {"p": 1}
        assert len(c) == 0
        return
    assert key == c.key(plain) == c.key(chat("x"))
    c.put(kind(plain), {"b": 1})
    assert c.get(chat("x")) is None
    assert c.get(chat("x"), namespace="tenant-b").response == {"b": 1}


# -- item 6: key_func keys of 32 characters that are not hex ------------------------------------


@pytest.mark.parametrize(
    "make_key",
    [lambda t: ("z" * 31 + t)[-32:], lambda t: ("0x" + "0" * 30 + t)[-32:], lambda t: t.upper().rjust(32, "F")],
    ids=["non-hex", "0x-prefix", "upper-hex"],
)
def test_key_func_keys_of_32_characters_keep_the_semantic_tier(make_key, caplog):
    c = semantic_cache(key_func=lambda r: make_key(r["messages"][0]["content"][-1]))
    with caplog.at_level(logging.WARNING, logger="dejacache"):
        c.put(chat("how do I learn rust, question a"), {"a": 1})
    assert "vector not stored" not in caplog.text
    hit = c.get(chat("How do I learn Rust, question a?"[:-1]))
    assert hit is not None and hit.response == {"a": 1}


def test_vector_ids_of_distinct_non_hex_keys_differ():
    from dejacache._semantic.entries import vector_id

    keys = ["z" * 31 + c for c in "abcdefgh"] + ["0x" + "0" * 29 + "1", "0" * 31 + "1", "F" * 32, "f" * 32]
    assert len({vector_id(k) for k in keys}) == len(keys)


# -- item 9: NaN and infinity in answers -------------------------------------------------------


@pytest.mark.parametrize(
    "response, path",
    [
        (
            {"choices": [{"logprobs": {"content": [{"logprob": -math.inf}]}}]},
            r"""response\["choices"\]\[0\]\["logprobs"\]\["content"\]\[0\]\["logprob"\]""",
        ),
        ([1.0, math.nan], r"response\[1\]"),
        (math.inf, r"store response = inf"),
        ({"a": (1, {"b": -math.nan})}, r"""response\["a"\]\[1\]\["b"\]"""),
    ],
)
def test_non_finite_numbers_in_an_answer_are_refused_with_their_path(response, path):
    c = dejacache.Cache()
    c.put(chat(), {"a": 1})
    with pytest.raises(ValueError, match=path):
        c.put(chat(), response)
    with pytest.raises(ValueError, match=path):
        c.put_many([(chat("b"), {"ok": 1}), (chat(), response)])
    assert c.get(chat()).response == {"a": 1}
    assert c.get(chat("b")) is None


def test_call_returns_a_non_finite_answer_unstored_with_a_warning(caplog):
    c = dejacache.Cache()
    answer = {"score": math.nan, "cache": None}
    with caplog.at_level(logging.WARNING, logger="dejacache"):
        out = c.call(chat(), lambda r: answer)
    assert out is answer
    assert len(c) == 0
    assert "score" in caplog.text


def test_nulls_and_finite_floats_are_stored_as_they_are():
    c = dejacache.Cache()
    response = {"logprobs": None, "x": [1.5, -0.0, 1e308, None], "content": "null NaN Infinity"}
    c.put(chat(), response)
    assert c.get(chat()).response == response


# -- item 10: huge numbers --------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"max_entries": 2**64}, "max_entries"),
        ({"max_entries": 2**63}, "max_entries"),
        ({"max_bytes": 2**64}, "max_bytes"),
        ({"max_bytes": 10**400}, "max_bytes"),
        ({"ttl": 10**400}, "ttl"),
        ({"ttl": -(10**400)}, "ttl"),
    ],
)
def test_huge_settings_are_value_errors_naming_the_range(kwargs, message):
    with pytest.raises(ValueError, match=message) as info:
        dejacache.Cache(**kwargs)
    assert not isinstance(info.value, OverflowError)
    assert "from" in str(info.value) or ">=" in str(info.value)


@pytest.mark.parametrize("control", ["ttl", "s-maxage"])
def test_huge_per_call_seconds_are_value_errors(control):
    c = dejacache.Cache()
    c.put(chat(), {"a": 1})
    with pytest.raises(ValueError, match=control) as info:
        c.get(chat(), cache={control: 10**400})
    assert not isinstance(info.value, OverflowError)
    with pytest.raises(ValueError, match=control):
        c.put(chat(), {"a": 2}, cache={control: 10**400})
    assert c.get(chat()).response == {"a": 1}


@pytest.mark.parametrize(
    "text, setting",
    [
        ("ttl: 1.0e+400\n", "ttl"),
        (f"ttl: {10**400}\n", "ttl"),
        (f"max_entries: {2**64}\n", "max_entries"),
        (f"max_bytes: {10**30}\n", "max_bytes"),
        (f"next_cache:\n  ttl: {10**400}\n", "ttl"),
    ],
)
def test_huge_numbers_in_yaml_are_config_errors(tmp_path, text, setting):
    pytest.importorskip("yaml")
    p = tmp_path / "c.yaml"
    p.write_text(text)
    with pytest.raises(dejacache.ConfigError, match=setting):
        dejacache.load_config(p)
    with pytest.raises(dejacache.ConfigError, match=setting):
        import yaml

        dejacache.load_config(yaml.safe_load(text))


# -- item 11: config files that are not files, and model files of the wrong shape ------------


def test_a_directory_as_config_is_a_config_error(tmp_path):
    pytest.importorskip("yaml")
    with pytest.raises(dejacache.ConfigError, match="not a regular file"):
        dejacache.load_config(tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_as_config_is_a_config_error_without_blocking(tmp_path):
    pytest.importorskip("yaml")
    fifo = tmp_path / "c.yaml"
    os.mkfifo(fifo)

    def load():
        with pytest.raises(dejacache.ConfigError, match="not a regular file"):
            dejacache.load_config(fifo)

    try:
        run_threads((load,), timeout=10)
    finally:
        try:  # unblock a reader stuck in open(): a writer end opened without blocking
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
@pytest.mark.parametrize("where", ["config", "model"])
def test_a_device_is_refused_without_reading_it(where):
    if where == "config":
        pytest.importorskip("yaml")
        with pytest.raises(dejacache.ConfigError, match="not a regular file"):
            dejacache.load_config("/dev/zero")
    else:
        spec = {"semantic": {"evaluator": {"name": "calibrated", "model": "/dev/zero"}}}
        with pytest.raises(dejacache.ConfigError, match="not a regular file"):
            dejacache.load_config(spec)


def test_a_model_file_over_the_size_cap_is_refused_before_reading(tmp_path, monkeypatch):
    from dejacache._semantic import calibrated as _calibrated

    p = tmp_path / "m.json"
    p.write_text(json.dumps({"format": "x", "pad": "a" * 2000}))
    monkeypatch.setattr(_calibrated, "MAX_MODEL_BYTES", 1000)
    with pytest.raises(dejacache.ConfigError, match="at most 1000 bytes"):
        dejacache.load_config({"semantic": {"evaluator": {"name": "calibrated", "model": str(p)}}})


def _good_model() -> dict:
    from importlib import resources

    return json.loads(resources.files("dejacache._models").joinpath("pair_minilm_l6.json").read_text())


def _bad_models():
    good = _good_model()
    yield "list", [1, 2]
    yield "string", "model"
    yield "deep", None
    yield "no-features", {k: v for k, v in good.items() if k != "features"}
    yield "features-not-list", {**good, "features": 7}
    yield "features-not-strings", {**good, "features": [[1]]}
    yield "embedding-dim-text", {**good, "embedding_dim": "many"}
    if good.get("format", "").endswith("trees") or "roots" in good:
        n = len(good["feature"])
        cyclic_left = list(good["left"])
        inner = next(i for i, v in enumerate(cyclic_left) if v >= 0)
        cyclic_left[inner] = inner  # a node that is its own child: would loop forever
        yield "cycle", {**good, "left": cyclic_left}
        yield "negative-child", {**good, "right": [-7 if v >= 0 else v for v in good["right"]]}
        yield "roots-nested", {**good, "roots": [[0]] * 3}
        yield "split-text", {**good, "split": ["a"] * n}
    else:
        yield "coef-text", {**good, "coef": ["a"] * len(good["coef"])}
        yield "coef-nested", {**good, "coef": [[1, 2]] * len(good["coef"])}


@pytest.mark.parametrize("name, spec", list(_bad_models()), ids=lambda v: v if isinstance(v, str) else "")
def test_a_model_of_the_wrong_shape_is_a_config_error(tmp_path, name, spec):
    p = tmp_path / "m.json"
    if name == "deep":
        p.write_text("[" * 100_000 + "]" * 100_000)
    else:
        p.write_text(json.dumps(spec))
    with pytest.raises(dejacache.ConfigError, match="m.json"):
        dejacache.load_config({"semantic": {"evaluator": {"name": "calibrated", "model": str(p)}}})
    from dejacache._semantic.calibrated import CalibratedPairEvaluator

    with pytest.raises(ValueError):
        CalibratedPairEvaluator(str(p))


def test_bad_meta_already_stored_is_served_by_the_semantic_tier_too():
    c = semantic_cache()
    c.put(chat("how do I learn the rust language"), {"a": 1})
    key = c.key(chat("how do I learn the rust language"))
    c._store.put(key, "default", b'{"v":1,"r":{"a":1},"m":{"cost_usd":"0.01","tokens":[1]}}', c._clock(), None)
    hit = c.get(chat("How do I learn the Rust language?"))
    assert hit is not None and hit.source == "semantic" and hit.response == {"a": 1}
    assert c.stats()["cost_saved_usd"] == 0
