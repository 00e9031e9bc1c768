"""Adapters that put a ``dejacache.Cache`` behind other frameworks' own cache hooks.

Each module imports its framework lazily (only when used), so ``import dejacache`` needs none:

- ``dejacache.integrations.litellm``: ``enable(cache)`` / ``disable()`` make LiteLLM's
  ``completion``, ``acompletion``, ``embedding``, ``aembedding`` (and text completions) use it;
- ``dejacache.integrations.langchain``: ``DejacacheCache(cache)``, a LangChain ``BaseCache``;
- ``dejacache.integrations.gptcache``: ``import_gptcache(directory, cache)`` brings a GPTCache
  data directory over (also ``dejacache import-gptcache DIR``).
"""
