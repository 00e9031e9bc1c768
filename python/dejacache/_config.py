"""Cache configuration from a YAML file or a dict, read safely.

Only data comes in: ``yaml.safe_load`` semantics (no Python tags), no aliases, a size and depth
limit, and every stage named from a whitelist with typed parameters. Nothing in a config can
import a module or run code.

Example (``cache.yaml``)::

    max_entries: 50000
    ttl: 86400
    semantic:
      threshold: 0.92
      top_k: 5
      preprocess: {name: concat_all_queries, context_len: 4}
      evaluator:
        name: all_of
        of: [cosine, {name: time_decay, evaluator: cosine, max_age: 604800}]
      postprocess: first
      embedder: default
      vector_store: {name: index, kind: flat}   # or a URL: redis://host:6379, postgresql://...
    next_cache:
      max_entries: 1000000

>>> cache = dejacache.Cache.from_config("cache.yaml")          # doctest: +SKIP
>>> cache = dejacache.Cache(**dejacache.load_config("cache.yaml"))   # the same  # doctest: +SKIP
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

from ._config_values import _MAX_LIST, _bool, _int, _list, _num, _str
from ._errors import ConfigError

#: Largest config file read; a real one is a few hundred bytes.
MAX_CONFIG_BYTES = 256 * 1024
_MAX_DEPTH = 32
_MAX_LEVELS = 8


# -- stages ------------------------------------------------------------------------------------


def _stage(spec: Any, where: str) -> tuple[str, dict]:
    """(name, params) of a stage written as ``name`` or ``{name: ..., param: ...}``."""
    if isinstance(spec, str):
        return spec, {}
    if isinstance(spec, Mapping):
        if "name" not in spec:
            raise ConfigError(f"{where} needs a 'name', e.g. {{name: cosine}}")
        name = spec["name"]
        if not isinstance(name, str):
            raise ConfigError(f"{where}.name must be a string, not {name!r}")
        return name, {k: v for k, v in spec.items() if k != "name"}
    raise ConfigError(f"{where} must be a stage name or a mapping with 'name', not {spec!r}")


def _build(
    kind: str, table: Mapping[str, tuple[Callable[..., Any], dict]], spec: Any, where: str, depth: int = 0
) -> Any:
    if depth > _MAX_DEPTH:
        raise ConfigError(f"{where}: stages nested more than {_MAX_DEPTH} deep")
    name, params = _stage(spec, where)
    if name not in table:
        raise ConfigError(f"{where}: unknown {kind} {name!r}; known: {', '.join(sorted(table))}")
    factory, schema = table[name]
    unknown = sorted(set(map(str, params)) - set(schema))
    if unknown:
        allowed = ", ".join(sorted(schema)) or "none"
        raise ConfigError(f"{where}: {kind} {name!r} takes no parameter {unknown[0]!r} (it takes: {allowed})")
    checked = {}
    for pname, value in params.items():
        check = schema[pname]
        checked[pname] = (
            check(value, f"{where}.{pname}", depth + 1)
            if getattr(check, "nested", False)
            else check(value, f"{where}.{pname}")
        )
    try:
        return factory(**checked)
    except ConfigError:
        raise
    except (TypeError, ValueError, OSError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _preprocessors() -> dict:
    from . import preprocess as p

    def fixed(instance: Any) -> Callable[[], Any]:
        return lambda: instance

    def no_context_process(**_: Any) -> Any:
        raise ConfigError(
            "context_process needs a Python callable; build it in code with "
            "dejacache.preprocess.ContextProcess(compress)"
        )

    return {
        "last_content": (fixed(p.last_content), {}),
        "last_content_without_prompt": (p.LastContentWithoutPrompt, {"prompts": _list(_str())}),
        "last_content_without_template": (p.LastContentWithoutTemplate, {"template": _str()}),
        "all_content": (fixed(p.all_content), {}),
        "concat_all_queries": (p.ConcatAllQueries, {"context_len": _int(1, none=True), "skip_roles": _list(_str())}),
        "context_process": (no_context_process, {}),
        "get_prompt": (fixed(p.get_prompt), {}),
        "get_messages_last_content": (fixed(p.get_messages_last_content), {}),
        "get_inputs": (fixed(p.get_inputs), {}),
        "get_openai_moderation_input": (fixed(p.get_openai_moderation_input), {}),
        "get_file_name": (fixed(p.get_file_name), {}),
        "get_file_bytes": (fixed(p.get_file_bytes), {}),
        "get_image": (fixed(p.get_image), {}),
        "get_image_question": (fixed(p.get_image_question), {}),
    }


def _nested(fn: Callable[[Any, str, int], Any]) -> Callable[[Any, str, int], Any]:
    fn.nested = True  # type: ignore[attr-defined]
    return fn


def _evaluators() -> dict:
    from . import evaluation as e

    def child(v: Any, where: str, depth: int) -> Any:
        return _build("evaluator", table, v, where, depth)

    def children(v: Any, where: str, depth: int) -> Any:
        if not isinstance(v, list) or not v or len(v) > _MAX_LIST:
            raise ConfigError(f"{where} must be a list of 1 to {_MAX_LIST} evaluators")
        return [child(x, f"{where}[{i}]", depth) for i, x in enumerate(v)]

    def weighted_pairs(v: Any, where: str, depth: int) -> Any:
        if not isinstance(v, list) or not v or len(v) > _MAX_LIST:
            raise ConfigError(f"{where} must be a list of {{evaluator: ..., weight: ...}} mappings")
        out = []
        for i, item in enumerate(v):
            w = f"{where}[{i}]"
            if not isinstance(item, Mapping) or set(item) != {"evaluator", "weight"}:
                raise ConfigError(f"{w} must be a mapping with exactly 'evaluator' and 'weight'")
            out.append((child(item["evaluator"], f"{w}.evaluator", depth), _num(0.0)(item["weight"], f"{w}.weight")))
        return out

    def calibrated(**params: Any) -> Any:
        from ._semantic.calibrated import CalibratedPairEvaluator

        return CalibratedPairEvaluator(params.get("model"))

    table: dict = {
        "cosine": (e.Cosine, {}),
        "exact_match": (e.ExactMatch, {}),
        "numbers_agree": (e.NumbersAgree, {}),
        "token_sequence": (e.TokenSequence, {}),
        "kreciprocal": (e.KReciprocal, {"k": _int(1, 100)}),
        "sequence_match": (e.SequenceMatch, {"weights": _list(_num(0.0))}),
        "time_decay": (
            e.TimeDecay,
            {
                "evaluator": _nested(child),
                "max_age": _num(0.0, open_lo=True, none=True),
                "half_life": _num(0.0, open_lo=True, none=True),
            },
        ),
        "all_of": (lambda of: e.AllOf(*of), {"of": _nested(children)}),
        "any_of": (lambda of: e.AnyOf(*of), {"of": _nested(children)}),
        "weighted": (lambda of: e.Weighted(of), {"of": _nested(weighted_pairs)}),
        "cross_encoder": (e.CrossEncoder, {"model_path": _str()}),
        # a logistic model read from a JSON file of coefficients (data, never code)
        "calibrated": (calibrated, {"model": _str()}),
    }
    return table


def _postprocessors() -> dict:
    from . import postprocess as p

    return {
        "first": (lambda: p.first, {}),
        "random": (p.RandomChoice, {"seed": _int(0, none=True)}),
        "temperature_softmax": (p.TemperatureSoftmax, {"temperature": _num(0.0), "seed": _int(0, none=True)}),
    }


def _embedders() -> dict:
    def default() -> Any:
        from .embedders import default_embedder

        return default_embedder()

    def hashing(**params: Any) -> Any:
        from .embedders import HashingEmbedder

        return HashingEmbedder(**params)

    def minilm(**params: Any) -> Any:
        from .embedders import CachedEmbedder, MiniLMEmbedder

        return CachedEmbedder(MiniLMEmbedder(**params))

    def minilm_l3(**params: Any) -> Any:
        from .embedders import CachedEmbedder, MiniLML3Embedder

        return CachedEmbedder(MiniLML3Embedder(**params))

    return {
        "default": (default, {}),
        "hashing": (hashing, {"dim": _int(8, 65536), "min_n": _int(1, 16), "max_n": _int(1, 16), "words": _bool}),
        "minilm": (minilm, {"threads": _int(1, 256)}),
        "minilm_l3": (minilm_l3, {"threads": _int(1, 256)}),
    }


def _vector_stores(dim_of: Callable[[], int]) -> dict:
    def index(**params: Any) -> Any:
        from ._core import VectorIndex

        return VectorIndex(dim_of(), metric="cosine", **params)

    return {"index": (index, {"kind": _str(("auto", "flat", "hnsw")), "dtype": _str(("f32", "f16", "i8"))})}


# -- the whole config --------------------------------------------------------------------------

_SEMANTIC_KEYS = (
    "embedder",
    "threshold",
    "top_k",
    "preprocess",
    "evaluator",
    "postprocess",
    "vector_store",
    "normalize",
    "max_text_chars",
)


def _semantic(spec: Any, where: str) -> Any:
    if spec is None or spec is False:
        return None
    if spec is True:
        return True
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where} must be true, false or a mapping of stages")
    unknown = sorted(set(map(str, spec)) - set(_SEMANTIC_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; known: {', '.join(_SEMANTIC_KEYS)}")
    from ._semantic.config import Semantic

    kwargs: dict[str, Any] = {}
    if "threshold" in spec:
        kwargs["threshold"] = _num(0.0, 1.0)(spec["threshold"], f"{where}.threshold")
    if "normalize" in spec:
        kwargs["normalize"] = _bool(spec["normalize"], f"{where}.normalize")
    if "top_k" in spec:
        kwargs["top_k"] = _int(1, 1000)(spec["top_k"], f"{where}.top_k")
    if "max_text_chars" in spec:
        kwargs["max_text_chars"] = _int(1, none=True)(spec["max_text_chars"], f"{where}.max_text_chars")
    for key, kind, table in (
        ("preprocess", "pre-processor", _preprocessors),
        ("evaluator", "evaluator", _evaluators),
        ("postprocess", "post-processor", _postprocessors),
        ("embedder", "embedder", _embedders),
    ):
        if key in spec:
            kwargs[key] = _build(kind, table(), spec[key], f"{where}.{key}")
    store_url = spec.get("vector_store")
    if isinstance(store_url, str) and ("://" in store_url or store_url.startswith("os.environ/")):
        # a vector database's URL (redis://, postgresql://, ...): opened when the cache is built
        kwargs["vector_store"] = store_url
    elif "vector_store" in spec:

        def dim() -> int:
            embedder = kwargs.get("embedder")
            if embedder is None:
                embedder = kwargs["embedder"] = _embedders()["default"][0]()
            return int(embedder.dim)

        kwargs["vector_store"] = _build(
            "vector store", _vector_stores(dim), spec["vector_store"], f"{where}.vector_store"
        )
    try:
        return Semantic(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


_CACHE_KEYS: dict[str, Callable[[Any, str], Any]] = {
    "max_entries": _int(1, sys.maxsize, none=True),
    "max_bytes": _int(1, sys.maxsize, none=True),
    "ttl": _num(0.0, none=True),
    "eviction": _str(("lru", "lfu", "fifo")),
    "namespace": _str(),
    "opt_in": _bool,
    # a store URL or path (sqlite:///c.db, redis://..., postgresql://...); os.environ/NAME is read
    # from the environment when the cache is built, so the file need not hold a password
    "store": _str(),
}


def _cache_kwargs(doc: Any, where: str, level: int) -> dict[str, Any]:
    if level > _MAX_LEVELS:
        raise ConfigError(f"{where}: more than {_MAX_LEVELS} cache levels")
    if doc is None:
        return {}
    if not isinstance(doc, Mapping):
        raise ConfigError(f"{where} must be a mapping of cache settings, not {type(doc).__name__}")
    known = (*_CACHE_KEYS, "semantic", "next_cache")
    kwargs: dict[str, Any] = {}
    for name, value in doc.items():
        if name not in known:
            raise ConfigError(f"{where}: unknown setting {name!r}; known: {', '.join(known)}")
        if name == "semantic":
            kwargs["semantic"] = _semantic(value, f"{where}.semantic")
        elif name == "next_cache":
            if value is not None:  # Cache builds the level from its keyword arguments
                kwargs["next_cache"] = _cache_kwargs(value, f"{where}.next_cache", level + 1)
        else:
            kwargs[name] = _CACHE_KEYS[name](value, f"{where}.{name}")
    return kwargs


def _read_yaml(path: str | os.PathLike) -> Any:
    try:
        import yaml
    except ImportError as exc:
        raise ImportError("reading a YAML config needs PyYAML: pip install 'dejacache[yaml]'") from exc

    class Loader(yaml.SafeLoader):
        """SafeLoader without aliases (no exponential expansion) and with a nesting limit."""

        depth = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                mark = self.peek_event().start_mark
                raise ConfigError(f"{path}, line {mark.line + 1}: YAML aliases (*name) are not allowed in a config")
            self.depth += 1
            if self.depth > _MAX_DEPTH:
                raise ConfigError(f"{path}: nested more than {_MAX_DEPTH} levels deep")
            try:
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

    from ._files import FileRefused, read_regular

    try:
        data = read_regular(path, MAX_CONFIG_BYTES, "config file")
    except FileRefused as exc:
        raise ConfigError(str(exc)) from None
    try:
        return yaml.load(data, Loader=Loader)  # noqa: S506 - Loader is a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not a valid dejacache config: {exc}") from None


def load_config(config: str | os.PathLike | Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of ``Cache`` described by a YAML file (path) or a dict.

    Raises ConfigError (a ValueError) naming the offending setting: unknown stage names or
    settings, wrong types, Python tags, aliases, files over 256 KiB.

    >>> dejacache.load_config({"ttl": 60, "semantic": {"threshold": 0.95}})   # doctest: +SKIP
    {'ttl': 60.0, 'semantic': Semantic(...)}
    """
    if isinstance(config, Mapping):
        return _cache_kwargs(config, "config", 0)
    if isinstance(config, (str, os.PathLike)):
        return _cache_kwargs(_read_yaml(config), os.fspath(config), 0)
    raise TypeError(f"config must be a path to a YAML file or a dict, not {type(config).__name__}")
