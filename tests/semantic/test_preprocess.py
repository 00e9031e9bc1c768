import io

import pytest
from dejacache import _core
from dejacache import preprocess as p
from dejacache.preprocess import EMBEDDED, TURN_SEPARATOR, PreprocessError

SCHEMA = _core.KeySchema([])


def chat(*contents, system=None, **params):
    msgs = [{"role": "system", "content": system}] if system else []
    roles = ["user", "assistant"]
    msgs += [{"role": roles[i % 2], "content": c} for i, c in enumerate(contents)]
    return {"model": "m", "messages": msgs, **params}


def scope(pre, request):
    return SCHEMA.key(p.extract(pre, request).rest)


def test_last_content_text_and_scope():
    a = chat("What is 2+2?")
    assert p.last_content(a) == "What is 2+2?"
    # Only the wording of the last message may differ within a scope.
    assert scope(p.last_content, a) == scope(p.last_content, chat("what's two plus two"))
    assert scope(p.last_content, a) != scope(p.last_content, chat("What is 2+2?", temperature=0.5))
    assert scope(p.last_content, a) != scope(p.last_content, chat("What is 2+2?", system="Be brief."))
    # An earlier turn is part of the scope: another conversation never shares answers.
    c1 = chat("Tell me about Paris", "Paris is...", "How big is it?")
    c2 = chat("Tell me about Rome", "Rome is...", "How big is it?")
    assert p.last_content(c1) == p.last_content(c2)
    assert scope(p.last_content, c1) != scope(p.last_content, c2)


def test_content_parts_keep_images_in_scope():
    def with_image(url, q):
        return {
            "model": "m",
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "text", "text": q}, {"type": "image_url", "image_url": {"url": url}}],
                }
            ],
        }

    a, b = with_image("http://x/1.png", "What is this?"), with_image("http://x/2.png", "What is this?")
    assert p.last_content(a) == "What is this?"
    assert scope(p.last_content, a) != scope(p.last_content, b)
    assert scope(p.last_content, a) == scope(p.last_content, with_image("http://x/1.png", "what's that"))


def test_last_content_without_prompt_is_literal():
    pre = p.last_content_without_prompt(["Translate (to French): ", "a.b"])
    req = chat("Translate (to French): good morning")
    assert pre(req) == "good morning"
    # '.' is not a regex wildcard: "axb" stays.
    assert pre(chat("say axb now")) == "say axb now"
    assert pre(chat("say a.b now")) == "say  now"
    assert scope(pre, req) == scope(pre, chat("Translate (to French): hello there"))
    # Which prompt was present is part of the scope.
    assert scope(pre, req) != scope(pre, chat("good morning"))
    with pytest.raises(ValueError):
        p.LastContentWithoutPrompt([])
    with pytest.raises(PreprocessError):
        pre(chat("Translate (to French): "))


def test_last_content_without_template():
    pre = p.last_content_without_template("Write a poem about {subject} in {style} style")
    req = chat("Write a poem about cats in haiku style")
    assert pre(req) == "cats\nhaiku"
    assert scope(pre, req) == scope(pre, chat("Write a poem about dogs in limerick style"))
    off = chat("cats haiku")
    assert pre(off) == "cats haiku"
    assert scope(pre, req) != scope(pre, off)

    class PromptTemplate:
        template = "Summarise {text}"

    assert p.last_content_without_template(PromptTemplate())(chat("Summarise this page")) == "this page"
    with pytest.raises(ValueError):
        p.LastContentWithoutTemplate("no fields here")
    with pytest.raises(ValueError):
        p.LastContentWithoutTemplate("bad {")


def test_all_content_and_concat_all_queries():
    req = chat("hi", "hello!", "how are you", system="Be nice.")
    text, embedded = p.all_content(req)
    assert embedded == "Be nice.\nhi\nhello!\nhow are you"
    assert text.split(TURN_SEPARATOR) == ["Be nice.", "hi", "hello!", "how are you"]
    assert p.concat_all_queries(req) == (
        "USER: hi" + TURN_SEPARATOR + "USER: how are you",
        "USER: hi\nUSER: how are you",
    )
    # Skipped roles stay in the scope verbatim: another system prompt or answer is another scope.
    assert scope(p.concat_all_queries, req) != scope(
        p.concat_all_queries, chat("hi", "hey", "how are you", system="Be nice.")
    )
    assert scope(p.concat_all_queries, req) == scope(
        p.concat_all_queries, chat("hello", "hello!", "how r u", system="Be nice.")
    )
    short = p.ConcatAllQueries(context_len=1)
    assert short(req) == "USER: how are you"
    # Messages outside the window are not forgotten.
    assert scope(short, req) != scope(short, chat("bye", "hello!", "how are you", system="Be nice."))
    assert scope(short, req) == scope(short, chat("hi", "hello!", "how r u", system="Be nice."))
    with pytest.raises(ValueError):
        p.ConcatAllQueries(context_len=0)
    with pytest.raises(PreprocessError):
        p.ConcatAllQueries(skip_roles=["user", "assistant", "system"])(req)


def test_context_process_compresses_through_user_callable():
    seen = []

    def compress(messages):
        seen.append(len(messages))
        return " ".join(m["content"] for m in messages[-2:])

    pre = p.context_process(compress)
    stored, embedded = pre(chat("a long story", "ok", "so what now"))
    assert embedded == "ok so what now"
    assert stored.split(TURN_SEPARATOR)[0] == "USER: a long story"
    assert seen == [3]
    with pytest.raises(TypeError):
        p.ContextProcess(lambda m: 3)(chat("x"))


def test_single_field_requests():
    assert p.get_prompt({"prompt": "once upon", "model": "m"}) == "once upon"
    assert p.get_prompt({"prompt": ["a", "b"]}) == "a\nb"
    assert p.get_inputs({"inputs": "q"}) == "q"
    assert p.get_openai_moderation_input({"input": ["x", "y"]}) == "x\ny"
    r1, r2 = {"prompt": "one", "max_tokens": 5}, {"prompt": "two", "max_tokens": 6}
    assert scope(p.get_prompt, r1) != scope(p.get_prompt, r2)
    assert scope(p.get_prompt, r1) == scope(p.get_prompt, {"prompt": "uno", "max_tokens": 5})
    with pytest.raises(PreprocessError):
        p.get_prompt({"messages": []})
    with pytest.raises(PreprocessError):
        p.get_prompt({"prompt": 3})
    with pytest.raises(PreprocessError):
        p.last_content({"prompt": "x"})
    with pytest.raises(PreprocessError):
        p.last_content({"messages": []})


def test_langchain_messages():
    class Human:
        type = "human"

        def __init__(self, content):
            self.content = content

    req = {"messages": [Human("earlier"), Human("What's up?")]}
    assert p.get_messages_last_content(req) == "What's up?"
    rest = p.get_messages_last_content.extract(req).rest
    assert rest["messages"] == [{"type": "human", "content": "earlier"}, {"type": "human", "content": EMBEDDED}]
    SCHEMA.key(rest)  # plain data: hashable into a scope


def test_files_and_images(tmp_path):
    f = tmp_path / "talk.mp3"
    f.write_bytes(b"RIFF-1")
    other = tmp_path / "talk2.mp3"
    other.write_bytes(b"RIFF-2")
    assert p.get_file_name({"file": str(f)}) == str(f)
    fh = io.BytesIO(b"abc")
    fh.name = "talk.mp3"
    assert p.get_file_name({"file": fh}) == "talk.mp3"
    assert fh.tell() == 0  # the provider can still read it
    # Same name, different content: different scopes.
    fh2 = io.BytesIO(b"xyz")
    fh2.name = "talk.mp3"
    assert SCHEMA.key(p.get_file_name.extract({"file": fh}).rest) != SCHEMA.key(
        p.get_file_name.extract({"file": fh2}).rest
    )
    assert p.get_file_bytes({"file": str(other)}) == b"RIFF-2"
    assert p.get_file_bytes({"file": fh}) == b"abc"

    assert p.get_image({"image": b"\x89PNG", "question": "q"}) == b"\x89PNG"
    assert p.get_image_question({"image": "cat.png", "question": "What animal?"}) == "What animal?"
    rep = {"input": {"image": b"img", "prompt": "Describe it"}}
    assert p.get_image_question(rep) == "Describe it"
    s1 = scope(p.get_image_question, {"image": b"one", "question": "What is it?"})
    s2 = scope(p.get_image_question, {"image": b"two", "question": "What is it?"})
    s3 = scope(p.get_image_question, {"image": b"one", "question": "what's this"})
    assert s1 != s2 and s1 == s3
    with pytest.raises(PreprocessError):
        p.get_image_question({"question": "no image"})
    with pytest.raises(PreprocessError):
        p.get_file_name({"file": str(tmp_path / "missing.mp3")})


def test_plain_callable_scope_blanks_verbatim_text_only():
    req = chat("Hello there", temperature=0)
    ext = p.extract(lambda r: r["messages"][-1]["content"], req)
    assert ext.embed == "Hello there" and ext.rest["messages"][-1]["content"] == EMBEDDED
    assert ext.rest["temperature"] == 0
    # A callable that rewrites the text leaves it in the scope: safe (exact-only), never wrong.
    ext = p.extract(lambda r: r["messages"][-1]["content"].lower(), req)
    assert ext.rest["messages"][-1]["content"] == "Hello there"
    # Pairs: both texts are taken out.
    ext = p.extract(lambda r: ("Hello there", "hello"), req)
    assert ext.text == "Hello there" and ext.embed == "hello"
    with pytest.raises(TypeError):
        p.extract(lambda r: 42, req)
    with pytest.raises(PreprocessError):
        p.extract(lambda r: r["prompt"], req)


def test_normalize_text():
    assert p.normalize_text("What\u2019s   the capital of France?!") == "What is the capital of France"
    assert p.normalize_text("I can't and won't; they're here") == "I cannot and will not; they are here"
    assert p.normalize_text("???") == ""
