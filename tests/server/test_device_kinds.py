"""Device kinds (migration 0003): assistant devices are claimed only by name and cannot manage the account."""

from __future__ import annotations

from typing import Any

from calpico.wire.common import b64encode

from . import mls_messages as mls
from .client import ApiClient, Device


async def _add(api: ApiClient, owner: Device, kind: str | None) -> tuple[Any, Device | None]:
    keys = mls.DeviceKeys.generate()
    body: dict[str, Any] = {"signature_key": b64encode(keys.public_key), "cipher_suite": mls.SUITE, "name": "pico"}
    if kind is not None:
        body["kind"] = kind
    r = await owner.post("/v1/devices", json=body)
    if r.status_code != 201:
        return r, None
    return r, await api.login(owner.username, r.json()["device_id"], keys)


async def test_an_assistant_device_is_listed_with_its_kind_and_claimed_only_by_name(api: ApiClient) -> None:
    alice, bob = await api.register(), await api.register()
    _, phone = await _add(api, alice, None)
    r, pico = await _add(api, alice, "assistant")
    assert r.json()["kind"] == "assistant" and pico is not None and phone is not None
    for device in (alice, phone, pico):
        await device.upload_key_packages(2)
    listed = {
        d["device_id"]: d["kind"] for d in (await bob.get(f"/v1/users/{alice.username}/devices")).json()["devices"]
    }
    assert listed == {alice.device_id: "person", phone.device_id: "person", pico.device_id: "assistant"}
    # Adding Alice to something claims her own devices only; her assistant is never brought along.
    plain = {k["device_id"] for k in (await bob.claim(alice.username)).json()["key_packages"]}
    assert plain == {alice.device_id, phone.device_id}
    # Named, it can be claimed (her device adds it to her conversations; an admin approves it into a room).
    r = await alice.post(f"/v1/users/{alice.username}/key-packages/claim", params={"device_id": pico.device_id})
    assert r.status_code == 200 and [k["device_id"] for k in r.json()["key_packages"]] == [pico.device_id]
    r = await bob.post(f"/v1/users/{alice.username}/key-packages/claim", params={"device_id": "nope"})
    assert r.status_code == 404


async def test_an_assistant_device_cannot_add_devices_or_revoke_others(api: ApiClient) -> None:
    alice = await api.register()
    _, pico = await _add(api, alice, "assistant")
    assert pico is not None
    r, _ = await _add(api, pico, None)
    assert r.status_code == 403
    r, _ = await _add(api, pico, "assistant")
    assert r.status_code == 403
    r = await pico.delete(f"/v1/devices/{alice.device_id}")
    assert r.status_code == 403
    assert (await alice.get("/v1/devices")).status_code == 200  # Alice's device still works
    r = await pico.delete(f"/v1/devices/{pico.device_id}")  # but it may retire itself
    assert r.status_code == 204


async def test_an_account_starts_with_a_persons_device(api: ApiClient) -> None:
    keys = mls.DeviceKeys.generate()
    device = {"signature_key": b64encode(keys.public_key), "cipher_suite": mls.SUITE, "kind": "assistant"}
    r = await api.http.post("/v1/accounts", json={"username": "botonly", "device": device})
    assert r.status_code == 400
    r = await api.http.post("/v1/accounts", json={"username": "botonly", "device": {**device, "kind": "robot"}})
    assert r.status_code == 400  # not a kind at all: the schema refuses it


async def test_an_assistant_device_cannot_change_its_owners_contacts_or_start_conversations(api: ApiClient) -> None:
    alice, bob = await api.register(), await api.register()
    _, pico = await _add(api, alice, "assistant")
    assert pico is not None
    await bob.upload_key_packages(2)
    # Claiming is how a conversation is started or someone added: only a person's device does it.
    for target, params in ((bob.username, {}), (alice.username, {}), (alice.username, {"device_id": alice.device_id})):
        r = await pico.post(f"/v1/users/{target}/key-packages/claim", params=params)
        assert r.status_code == 403 and "assistant device" in r.json()["message"]
    for method, path, body in (
        ("PUT", f"/v1/blocks/{bob.username}", None),
        ("DELETE", f"/v1/blocks/{bob.username}", None),
        ("PUT", f"/v1/contacts/{bob.username}", None),
        ("DELETE", f"/v1/contacts/{bob.username}", None),
        ("PUT", "/v1/contact-policy", {"policy": "anyone"}),
    ):
        r = await pico.http.request(method, path, headers=pico.headers, json=body)
        assert r.status_code == 403 and set(r.json()) >= {"code", "message"}, (method, path)
    # Nothing changed; its owner's own devices still manage all of it, and it may read what they set.
    assert (await alice.put(f"/v1/contacts/{bob.username}")).status_code == 204
    assert (await alice.put("/v1/contact-policy", json={"policy": "contacts"})).status_code == 200
    assert (await pico.get("/v1/contacts")).json()["contacts"] == [bob.username]
    assert (await pico.get("/v1/blocks")).json()["blocked"] == []
    assert (await pico.get("/v1/contact-policy")).json()["policy"] == "contacts"
    assert (await alice.claim(bob.username)).status_code == 200
