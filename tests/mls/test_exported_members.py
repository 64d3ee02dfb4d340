"""The public API of calpico.mls stays complete: every exported name exists, and the group API is exported."""

from __future__ import annotations

import calpico.mls
import calpico.mls.group


def test_every_exported_name_exists() -> None:
    for name in calpico.mls.__all__:
        assert hasattr(calpico.mls, name), name
    assert sorted(calpico.mls.__all__) == calpico.mls.__all__


def test_the_group_api_is_exported_from_calpico_mls() -> None:
    missing = {n for n in calpico.mls.group.__all__ if n not in calpico.mls.__all__} - {"verify_key_package"}
    assert not missing
