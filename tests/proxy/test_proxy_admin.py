"""Slice 4: auth, admin routes and virtual keys (tenants never see each other's entries)."""

from __future__ import annotations

import uuid

import httpx
import openai
import pytest

from .proxy_helpers import model_list, oai

MASTER = "sk-master-test"


@pytest.fixture(scope="module")
def guarded(make_proxy, upstream):
    return make_proxy({"model_list": model_list(upstream.url), "general_settings": {"master_key": MASTER}})


def admin(proxy, method: str, path: str, key: str | None = MASTER, **kw):
    headers = {"authorization": f"Bearer {key}"} if key else {}
    return httpx.request(method, proxy.url + path, headers=headers, timeout=10, **kw)


def unique(label: str) -> str:
    return f"{label} {uuid.uuid4().hex[:8]}"


def chat(client, text: str, **kw):
    return client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": text}], **kw
    )


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/cache/stats"),
        ("POST", "/cache/clear"),
        ("POST", "/cache/delete"),
        ("GET", "/key/list"),
        ("POST", "/key/generate"),
        ("POST", "/key/delete"),
    ],
)
def test_no_admin_route_without_the_master_key(guarded, proxy, method, path):
    assert admin(guarded, method, path, key=None, json={}).status_code == 401
    assert admin(guarded, method, path, key="sk-wrong", json={}).status_code == 401
    tenant = admin(guarded, "POST", "/key/generate", json={"namespace": "t-admin"}).json()["key"]
    assert admin(guarded, method, path, key=tenant, json={}).status_code == 403
    # a proxy without a master key has no admin at all
    r = admin(proxy, method, path, key="anything", json={})
    assert r.status_code == 403 and "master_key" in r.json()["error"]["message"]


def test_calls_need_a_key_when_a_master_key_is_set(guarded):
    with pytest.raises(openai.AuthenticationError):
        chat(oai(guarded, key="sk-nobody"), "x")
    assert chat(oai(guarded, key=MASTER), unique("master ok")).status_code == 200


def test_virtual_keys_keep_tenants_apart_and_revoke_at_once(guarded, upstream):
    a = admin(guarded, "POST", "/key/generate", json={"namespace": "tenant-a", "alias": "A"}).json()
    b = admin(guarded, "POST", "/key/generate", json={"namespace": "tenant-b"}).json()
    assert a["key"].startswith("sk-dc-") and a["namespace"] == "tenant-a"
    listed = admin(guarded, "GET", "/key/list").json()["keys"]
    assert {k["id"] for k in listed} >= {a["id"], b["id"]}
    assert all("key" not in k for k in listed) and a["key"] not in str(listed)
    text = unique("tenant secret")
    ca, cb = oai(guarded, key=a["key"]), oai(guarded, key=b["key"])
    assert chat(ca, text).headers["x-dejacache"] == "miss"
    assert chat(ca, text).headers["x-dejacache"] == "exact"
    assert chat(cb, text).headers["x-dejacache"] == "miss"  # tenant B never receives A's entry
    # a tenant cannot name another namespace
    with pytest.raises(openai.PermissionDeniedError):
        chat(cb, text, extra_body={"cache": {"namespace": "tenant-a"}})
    # virtual keys never reach the provider; the route has no key, so none is sent
    assert "authorization" not in upstream.requests[-1][1]
    r = admin(guarded, "POST", "/key/delete", json={"keys": [a["id"]]})
    assert r.json()["deleted_keys"] == [a["id"]]
    with pytest.raises(openai.AuthenticationError):
        chat(ca, text)


def test_a_key_uses_only_its_controls(guarded):
    k = admin(guarded, "POST", "/key/generate", json={"namespace": "tenant-c", "controls": ["no-cache"]}).json()
    client = oai(guarded, key=k["key"])
    text = unique("controls")
    assert chat(client, text, extra_body={"cache": {"no-cache": True}}).status_code == 200
    with pytest.raises(openai.PermissionDeniedError) as info:
        chat(client, text, extra_headers={"Cache-Control": "no-store"})
    assert "may use: no-cache" in info.value.body["message"]
    bad = admin(guarded, "POST", "/key/generate", json={"namespace": "x", "controls": ["namespace"]})
    assert bad.status_code == 400 and "unknown control 'namespace'" in bad.json()["error"]["message"]


def test_cache_delete_stats_and_clear(guarded):
    client = oai(guarded, key=MASTER)
    text = unique("admin entries")
    key = chat(client, text, extra_body={"cache": {"namespace": "ops"}}).headers["x-dejacache-key"]
    other = unique("other")
    chat(client, other, extra_body={"cache": {"namespace": "ops"}})
    stats = admin(guarded, "GET", "/cache/stats").json()
    assert stats["namespaces"]["ops"]["entries"] == 2 and "dejacache-proxy-keys" not in stats["namespaces"]
    r = admin(guarded, "POST", "/cache/delete", json={"keys": [key, "0" * 32], "namespace": "ops"}).json()
    assert r["deleted"] == [key] and r["not_found"] == ["0" * 32]
    assert chat(client, text, extra_body={"cache": {"namespace": "ops"}}).headers["x-dejacache"] == "miss"
    assert chat(client, other, extra_body={"cache": {"namespace": "ops"}}).headers["x-dejacache"] == "exact"
    cleared = admin(guarded, "POST", "/cache/clear", json={"namespace": "ops"}).json()
    assert cleared["removed"] == 2
    assert chat(client, other, extra_body={"cache": {"namespace": "ops"}}).headers["x-dejacache"] == "miss"
    r = admin(guarded, "POST", "/cache/clear", json={})
    assert r.status_code == 400
    r = admin(guarded, "POST", "/cache/clear", json={"namespace": "dejacache-proxy-keys"})
    assert r.status_code == 403
