"""OpenAI raw responses: ``chat.completions.with_raw_response.create``."""

from __future__ import annotations

from typing import Any

from openai.types.chat import ChatCompletion

from ..raw import RawAnswers


def _raw_chat_classes() -> tuple[type, type, type]:
    from openai._legacy_response import LegacyAPIResponse
    from openai._models import FinalRequestOptions

    return LegacyAPIResponse, FinalRequestOptions, ChatCompletion


def raw_chat_answers(client: Any) -> RawAnswers:
    """Raw responses of ``chat.completions.with_raw_response.create`` (sync and async alike)."""
    return RawAnswers(
        "openai chat.completions.with_raw_response.create()", client, _raw_chat_classes, "/chat/completions"
    )
