"""Pre-processors: which part of a request is embedded, and which part must match exactly.

A pre-processor turns a request into the text to embed, or a pair (text to store, text to embed)
as GPTCache's pre-processing functions do. dejacache's pre-processors also say what they took out
of the request: ``extract(request)`` returns an :class:`Extraction` whose ``rest`` is the request
with the embedded text replaced by a marker. The semantic tier hashes ``rest`` (with the
namespace) into a *scope*, and searches only within that scope, so a semantic hit differs from
the stored request only in the embedded wording: the model, temperature, tools, response format,
system prompt and every earlier turn not embedded must be identical.

>>> from dejacache import preprocess
>>> req = {"model": "m", "messages": [{"role": "user", "content": "hi there"}]}
>>> preprocess.last_content(req)
'hi there'
>>> preprocess.last_content.extract(req).rest["messages"][0]["content"]
'\\x00embedded\\x00'

A plain callable ``request -> str | (str, str)`` works too; the semantic tier then takes the
returned text out of the request wherever it occurs verbatim (see :func:`blank_text`).
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ._errors import PreprocessError
from ._normalize import normalize_text
from ._preprocess_media import GetFileBytes, GetFileName, GetImage, GetImageQuestion
from ._request_parts import (
    EMBEDDED,
    TURN_SEPARATOR,
    Extraction,
    Preprocessor,
    _field,
    _message_content,
    _messages,
    _plain_message,
    _role,
    _split_content,
    _with_messages,
)

__all__ = [
    "EMBEDDED",
    "TURN_SEPARATOR",
    "AllContent",
    "ConcatAllQueries",
    "ContextProcess",
    "Extraction",
    "GetFileBytes",
    "GetFileName",
    "GetImage",
    "GetImageQuestion",
    "GetInputs",
    "GetMessagesLastContent",
    "GetOpenAIModerationInput",
    "GetPrompt",
    "LastContent",
    "LastContentWithoutPrompt",
    "LastContentWithoutTemplate",
    "PreprocessError",
    "Preprocessor",
    "all_content",
    "blank_text",
    "normalize_text",
    "concat_all_queries",
    "context_process",
    "extract",
    "get_file_bytes",
    "get_file_name",
    "get_image",
    "get_image_question",
    "get_inputs",
    "get_messages_last_content",
    "get_openai_moderation_input",
    "get_prompt",
    "last_content",
    "last_content_without_prompt",
    "last_content_without_template",
]


# -- chat requests ------------------------------------------------------------------------------


class LastContent(Preprocessor):
    """The content of the last message; every earlier message stays in the scope verbatim."""

    def extract(self, request: Any) -> Extraction:
        msgs = _messages(request)
        text, rest_content = _split_content(_message_content(msgs[-1]))
        rest = _with_messages(request, [*msgs[:-1], {**msgs[-1], "content": rest_content}])
        return Extraction(text, text, rest)


class LastContentWithoutPrompt(Preprocessor):
    """The last message's content with fixed prompt strings taken out (matched literally, never
    as regular expressions). Which prompts were present, and where, stays in the scope.

    >>> p = LastContentWithoutPrompt(["Translate to French: "])
    >>> p({"messages": [{"role": "user", "content": "Translate to French: good morning"}]})
    'good morning'
    """

    def __init__(self, prompts: Iterable[str]):
        prompts = list(prompts) if not isinstance(prompts, str) else [prompts]
        if not prompts or not all(isinstance(p, str) and p for p in prompts):
            raise ValueError("prompts must be a list of non-empty strings")
        self.prompts = prompts
        # Longest first, so a prompt that contains another is removed whole.
        alternatives = "|".join(re.escape(p) for p in sorted(set(prompts), key=len, reverse=True))
        self._splitter = re.compile(f"({alternatives})")

    def extract(self, request: Any) -> Extraction:
        msgs = _messages(request)
        content, rest_content = _split_content(_message_content(msgs[-1]))
        pieces = self._splitter.split(content)
        text = "".join(pieces[0::2]).strip()
        if not text:
            raise PreprocessError("the last message holds nothing besides the configured prompts")
        found = [EMBEDDED if i % 2 == 0 else piece for i, piece in enumerate(pieces)]
        rest = _with_messages(request, [*msgs[:-1], {**msgs[-1], "content": [found, rest_content]}])
        return Extraction(text, text, rest)

    def __repr__(self) -> str:
        return f"LastContentWithoutPrompt({self.prompts!r})"


class LastContentWithoutTemplate(Preprocessor):
    """The values filled into a ``str.format``-style template (``"Tell me about {topic}"``),
    taken from the last message. A message that does not fit the template is embedded whole,
    in a scope of its own. A LangChain ``PromptTemplate`` (anything with a ``.template`` string)
    works too.

    >>> p = LastContentWithoutTemplate("Write a poem about {subject} in {style} style")
    >>> p({"messages": [{"role": "user", "content": "Write a poem about cats in haiku style"}]})
    'cats\\nhaiku'
    """

    def __init__(self, template: Any):
        template = getattr(template, "template", template)
        if not isinstance(template, str) or not template:
            raise ValueError("template must be a non-empty format string such as 'About {topic}'")
        pattern, fields = [], 0
        try:
            parsed = list(string.Formatter().parse(template))
        except ValueError as exc:
            raise ValueError(f"template is not a valid format string: {exc}") from None
        for literal, field, _spec, _conv in parsed:
            pattern.append(re.escape(literal))
            if field is not None:
                pattern.append("(.*?)")
                fields += 1
        if not fields:
            raise ValueError("template has no {field} to fill in")
        self.template = template
        self._pattern = re.compile("".join(pattern), re.DOTALL)

    def extract(self, request: Any) -> Extraction:
        msgs = _messages(request)
        content, rest_content = _split_content(_message_content(msgs[-1]))
        match = self._pattern.fullmatch(content)
        if match is None:
            text, marker = content, "\x00unmatched\x00"
        else:
            text, marker = "\n".join(match.groups()), "\x00template\x00"
        scoped = [marker, rest_content]
        rest = _with_messages(request, [*msgs[:-1], {**msgs[-1], "content": scoped}])
        return Extraction(text, text, rest)

    def __repr__(self) -> str:
        return f"LastContentWithoutTemplate({self.template!r})"


class AllContent(Preprocessor):
    """The contents of all messages, joined by newlines: the whole conversation is embedded.
    Roles, the number of messages and non-text parts stay in the scope."""

    def extract(self, request: Any) -> Extraction:
        msgs = _messages(request)
        texts, rest_msgs = [], []
        for m in msgs:
            text, rest_content = _split_content(_message_content(m))
            texts.append(text)
            rest_msgs.append({**_plain_message(m), "content": rest_content})
        stored = TURN_SEPARATOR.join(texts)
        return Extraction(stored, "\n".join(texts), _with_messages(request, rest_msgs))


class ConcatAllQueries(Preprocessor):
    """The last ``context_len`` messages as ``ROLE: content`` lines, leaving out the roles in
    ``skip_roles``. Unlike GPTCache, what is not embedded is not forgotten: older messages and
    skipped-role messages (the system prompt, earlier answers) stay in the scope verbatim, so
    an answer given in another conversation is never served.

    >>> concat_all_queries({"messages": [{"role": "system", "content": "Be brief."},
    ...                                  {"role": "user", "content": "hi"}]})
    'USER: hi'
    """

    def __init__(self, context_len: int | None = None, skip_roles: Iterable[str] = ("system", "assistant")):
        if context_len is not None and (
            isinstance(context_len, bool) or not isinstance(context_len, int) or context_len < 1
        ):
            raise ValueError(f"context_len must be a whole number >= 1 or None (all messages), not {context_len!r}")
        skip = [skip_roles] if isinstance(skip_roles, str) else list(skip_roles)
        if not all(isinstance(r, str) for r in skip):
            raise ValueError("skip_roles must be a list of role names")
        self.context_len = context_len
        self.skip_roles = tuple(skip)

    def extract(self, request: Any) -> Extraction:
        msgs = _messages(request)
        start = 0 if self.context_len is None else max(0, len(msgs) - self.context_len)
        turns, rest_msgs = [], list(msgs[:start])
        for m in msgs[start:]:
            role = _role(m)
            if role in self.skip_roles:
                rest_msgs.append(m)
                continue
            text, rest_content = _split_content(_message_content(m))
            turns.append(f"{role.upper()}: {text}")
            rest_msgs.append({**_plain_message(m), "content": rest_content})
        if not turns:
            raise PreprocessError("no message outside skip_roles within context_len to embed")
        return Extraction(TURN_SEPARATOR.join(turns), "\n".join(turns), _with_messages(request, rest_msgs))

    def __repr__(self) -> str:
        return f"ConcatAllQueries(context_len={self.context_len!r}, skip_roles={list(self.skip_roles)!r})"


class ContextProcess(Preprocessor):
    """Long conversations: ``compress(messages) -> str`` (a summariser, a keyword extractor,
    anything you supply) gives the text to embed; the full conversation is the stored text.
    The conversation's shape (roles, number of messages, non-text parts) stays in the scope.

    >>> p = ContextProcess(lambda msgs: " ".join(m["content"] for m in msgs[-2:]))
    """

    def __init__(self, compress: Callable[[Sequence[Any]], str]):
        if not callable(compress):
            raise TypeError("compress must be a callable messages -> str")
        self.compress = compress

    def extract(self, request: Any) -> Extraction:
        msgs = _messages(request)
        turns, rest_msgs = [], []
        for m in msgs:
            text, rest_content = _split_content(_message_content(m))
            turns.append(f"{_role(m).upper()}: {text}")
            rest_msgs.append({**_plain_message(m), "content": rest_content})
        summary = self.compress(msgs)
        if not isinstance(summary, str) or not summary:
            raise TypeError(f"the compress callable must return a non-empty str, not {summary!r}")
        return Extraction(TURN_SEPARATOR.join(turns), summary, _with_messages(request, rest_msgs))

    def __repr__(self) -> str:
        return f"ContextProcess({self.compress!r})"


class GetMessagesLastContent(Preprocessor):
    """LangChain chat models: the ``.content`` of the last message object (dicts work too)."""

    def extract(self, request: Any) -> Extraction:
        msgs = _messages(request)
        text, rest_content = _split_content(_message_content(msgs[-1]))
        rest_msgs = [_plain_message(m) for m in msgs[:-1]]
        rest_msgs.append({**_plain_message(msgs[-1]), "content": rest_content})
        return Extraction(text, text, _with_messages(request, rest_msgs))


# -- single-field requests ----------------------------------------------------------------------


class _TextField(Preprocessor):
    field = ""

    def extract(self, request: Any) -> Extraction:
        value = _field(request, self.field)
        if isinstance(value, str):
            if not value:
                raise PreprocessError(f"the request's {self.field!r} is empty")
            return Extraction(value, value, {**request, self.field: EMBEDDED})
        if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
            text = "\n".join(value)
            return Extraction(text, text, {**request, self.field: [EMBEDDED] * len(value)})
        raise PreprocessError(f"the request's {self.field!r} must be a string or a list of strings to embed")


class GetPrompt(_TextField):
    """Completion-style requests (LangChain LLMs, llama, image generation): ``prompt``."""

    field = "prompt"


class GetInputs(_TextField):
    """Dolly-style requests: ``inputs``."""

    field = "inputs"


class GetOpenAIModerationInput(_TextField):
    """OpenAI moderation requests: ``input`` (a string or a list of strings)."""

    field = "input"


# -- plain callables ----------------------------------------------------------------------------


_MAX_BLANK_DEPTH = 200


def blank_text(request: Any, texts: Sequence[str]) -> Any:
    """``request`` with every verbatim occurrence of ``texts`` replaced by :data:`EMBEDDED`.

    This is how the scope of a plain-callable pre-processor is found. Text the callable
    rewrote (lower-cased, trimmed) is not found, so it stays in the scope: the semantic tier
    then hits only on identical requests, which is safe, never wrong.
    """
    texts = sorted({t for t in texts if isinstance(t, str) and t}, key=len, reverse=True)

    def walk(value: Any, depth: int) -> Any:
        if depth > _MAX_BLANK_DEPTH:
            raise PreprocessError("the request is nested too deeply")
        if isinstance(value, str):
            for t in texts:
                if value == t:
                    return EMBEDDED
            for t in texts:
                if t in value:
                    value = value.replace(t, EMBEDDED)
            return value
        if isinstance(value, Mapping):
            return {k: walk(v, depth + 1) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [walk(v, depth + 1) for v in value]
        return value

    return walk(request, 0)


def extract(preprocess: Any, request: Any) -> Extraction:
    """Runs any pre-processor (built-in or a plain callable) and returns its :class:`Extraction`."""
    method = getattr(preprocess, "extract", None)
    if callable(method):
        ext = method(request)
        if not isinstance(ext, Extraction):
            raise TypeError(f"{preprocess!r}.extract must return a dejacache.preprocess.Extraction")
        return ext
    try:
        out = preprocess(request)
    except (KeyError, IndexError, AttributeError) as exc:
        raise PreprocessError(f"the pre-processor could not read the request: {exc!r}") from None
    if isinstance(out, tuple) and len(out) == 2:
        stored, embed = out
    else:
        stored = embed = out
    if not isinstance(embed, (str, bytes)) or not embed:
        raise TypeError(f"a pre-processor must return a non-empty str (or a pair of them), not {out!r}")
    return Extraction(stored, embed, blank_text(request, [t for t in (stored, embed) if isinstance(t, str)]))


# -- ready-made instances, named as in GPTCache --------------------------------------------------

last_content = LastContent()
all_content = AllContent()
concat_all_queries = ConcatAllQueries()
get_prompt = GetPrompt()
get_messages_last_content = GetMessagesLastContent()
get_inputs = GetInputs()
get_openai_moderation_input = GetOpenAIModerationInput()
get_file_name = GetFileName()
get_file_bytes = GetFileBytes()
get_image = GetImage()
get_image_question = GetImageQuestion()


def last_content_without_prompt(prompts: Iterable[str]) -> LastContentWithoutPrompt:
    """A :class:`LastContentWithoutPrompt` for these literal prompt strings."""
    return LastContentWithoutPrompt(prompts)


def last_content_without_template(template: Any) -> LastContentWithoutTemplate:
    """A :class:`LastContentWithoutTemplate` for this format-string template."""
    return LastContentWithoutTemplate(template)


def context_process(compress: Callable[[Sequence[Any]], str]) -> ContextProcess:
    """A :class:`ContextProcess` compressing conversations with ``compress``."""
    return ContextProcess(compress)
