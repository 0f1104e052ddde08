"""The model store, against file:// and a real S3 endpoint (moto server through boto3)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.common.manifest import IntegrityError, build_manifest
from services.common.store import ModelStore, StoreError


def make_version(tmp_path: Path, version: str, payload: str = "weights") -> Path:
    folder = tmp_path / f"build-{version}"
    folder.mkdir()
    (folder / "model.json").write_text(json.dumps({"payload": payload}))
    build_manifest(folder, service="demo", version=version, metrics={"mae": 1.0}, features=[],
                   data_fingerprint="abc", libraries=[])
    return folder


def test_publish_then_fetch_roundtrip(store_uri, tmp_path):
    store = ModelStore(store_uri, tmp_path / "cache")
    assert not store.has_latest("demo")
    store.publish("demo", make_version(tmp_path, "v1", "one"))
    assert store.latest_version("demo") == "v1"
    directory, manifest = store.fetch("demo", "v1")
    assert json.loads((directory / "model.json").read_text()) == {"payload": "one"}
    assert manifest["version"] == "v1" and manifest["files"]["model.json"]["sha256"]


def test_versions_listed_and_rollback_moves_latest(store_uri, tmp_path):
    store = ModelStore(store_uri, tmp_path / "cache")
    store.publish("demo", make_version(tmp_path, "v1", "one"))
    store.publish("demo", make_version(tmp_path, "v2", "two"))
    assert store.versions("demo") == ["v1", "v2"]
    assert store.latest_version("demo") == "v2"
    assert store.rollback("demo", "v1") == "v2"
    assert store.latest_version("demo") == "v1"


def test_rollback_to_missing_version_is_refused(store_uri, tmp_path):
    store = ModelStore(store_uri, tmp_path / "cache")
    store.publish("demo", make_version(tmp_path, "v1"))
    with pytest.raises(StoreError):
        store.rollback("demo", "v9")
    assert store.latest_version("demo") == "v1"


def test_tampered_file_is_refused(store_uri, tmp_path):
    store = ModelStore(store_uri, tmp_path / "cache")
    store.publish("demo", make_version(tmp_path, "v1", "honest"))
    store.backend.upload(_write(tmp_path / "evil.json", '{"payload": "evil"}'), "demo/v1/model.json")
    with pytest.raises(IntegrityError, match="model.json"):
        store.fetch("demo", "v1")


def test_tampered_cache_is_downloaded_again(store_uri, tmp_path):
    store = ModelStore(store_uri, tmp_path / "cache")
    store.publish("demo", make_version(tmp_path, "v1", "honest"))
    directory, _ = store.fetch("demo", "v1")
    (directory / "model.json").write_text("corrupted on local disk")
    directory, _ = store.fetch("demo", "v1")
    assert json.loads((directory / "model.json").read_text()) == {"payload": "honest"}


def test_publish_refuses_folder_that_does_not_match_its_manifest(store_uri, tmp_path):
    store = ModelStore(store_uri, tmp_path / "cache")
    folder = make_version(tmp_path, "v1")
    (folder / "model.json").write_text("changed after the manifest was written")
    with pytest.raises(IntegrityError):
        store.publish("demo", folder)
    assert not store.has_latest("demo")


def test_publish_writes_latest_last(file_store_uri, tmp_path):
    store = ModelStore(file_store_uri, tmp_path / "cache")
    calls: list[str] = []
    upload, write_text = store.backend.upload, store.backend.write_text
    store.backend.upload = lambda src, key: (calls.append(key), upload(src, key))
    store.backend.write_text = lambda key, text: (calls.append(key), write_text(key, text))
    store.publish("demo", make_version(tmp_path, "v1"))
    assert calls[-1] == "demo/LATEST"
    assert set(calls[:-1]) == {"demo/v1/model.json", "demo/v1/manifest.json"}


def test_latest_naming_garbage_is_an_error(store_uri, tmp_path):
    store = ModelStore(store_uri, tmp_path / "cache")
    store.backend.write_text("demo/LATEST", "../../etc/passwd\n")
    with pytest.raises(StoreError):
        store.latest_version("demo")


def test_manifest_file_names_cannot_escape_the_cache(store_uri, tmp_path):
    store = ModelStore(store_uri, tmp_path / "cache")
    folder = make_version(tmp_path, "v1")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"]["../escape.json"] = manifest["files"].pop("model.json")
    store.backend.write_text("demo/v1/manifest.json", json.dumps(manifest))
    with pytest.raises(IntegrityError, match="paths"):
        store.fetch("demo", "v1")


def test_unreachable_s3_endpoint_is_a_store_error(tmp_path, monkeypatch, aws_env):
    from tests.conftest import free_port

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    store = ModelStore("s3://nowhere/models", tmp_path / "cache")
    with pytest.raises(StoreError):
        store.latest_version("demo")


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_bad_uri_scheme_is_refused():
    with pytest.raises(StoreError, match="file:// or s3://"):
        ModelStore("ftp://x/y")


def test_cli_lists_and_rolls_back(file_store_uri, tmp_path, capsys):
    from services.common import store_cli

    store = ModelStore(file_store_uri, tmp_path / "cache")
    store.publish("demo", make_version(tmp_path, "v1"))
    store.publish("demo", make_version(tmp_path, "v2"))
    assert store_cli.main(["--store-uri", file_store_uri, "list", "demo"]) == 0
    assert capsys.readouterr().out.splitlines() == ["v1", "v2  <- LATEST"]
    assert store_cli.main(["--store-uri", file_store_uri, "rollback", "demo", "v1"]) == 0
    assert store.latest_version("demo") == "v1"
    assert store_cli.main(["--store-uri", file_store_uri, "rollback", "demo", "v7"]) == 2
    assert "error" in capsys.readouterr().err and store.latest_version("demo") == "v1"


def _all_files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("evil", ["../victim-v0/model.onnx", "../../../x", "/etc/x", ".hidden", "sub/model.json"])
def test_publish_refuses_file_names_that_fetch_refuses(store_uri, tmp_path, evil):
    """A manifest naming a path was once uploaded outside its version folder (over another version's file)."""
    store = ModelStore(store_uri, tmp_path / "cache")
    store.publish("demo", make_version(tmp_path, "v0", "victim"))
    folder = make_version(tmp_path, "v1", "attacker")
    target = (folder / evil) if not evil.startswith("/") else Path(evil)
    if not evil.startswith("/"):
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("overwritten")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"][evil] = {"sha256": "0" * 64, "bytes": 11}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    before = _all_files(tmp_path)
    with pytest.raises(IntegrityError, match="file names may not contain paths"):
        store.publish("demo", folder)
    assert store.latest_version("demo") == "v0" and store.versions("demo") == ["v0"]
    assert _all_files(tmp_path) == before  # nothing written, inside the store or out of it
    directory, _ = store.fetch("demo", "v0")
    assert json.loads((directory / "model.json").read_text()) == {"payload": "victim"}


@pytest.mark.parametrize("service", ["../../x", "..", "a/b", "", ".x", "demo/../../x"])
def test_publish_and_fetch_refuse_service_names_that_are_paths(file_store_uri, tmp_path, service):
    store = ModelStore(file_store_uri, tmp_path / "cache")
    folder = make_version(tmp_path, "v1")
    before = _all_files(tmp_path)
    with pytest.raises(StoreError, match="not a valid service name"):
        store.publish(service, folder)
    with pytest.raises(StoreError, match="not a valid service name"):
        store.latest_version(service)
    assert _all_files(tmp_path) == before


def test_publish_refuses_a_manifest_of_another_service(file_store_uri, tmp_path):
    store = ModelStore(file_store_uri, tmp_path / "cache")
    with pytest.raises(IntegrityError, match="names service 'demo'"):
        store.publish("sales", make_version(tmp_path, "v1"))
    assert not store.has_latest("sales")


def test_cli_publish_refuses_a_path_as_service(tmp_path, capsys):
    from services.common import store_cli

    root = tmp_path / "a" / "b" / "store"
    uri = root.as_uri()
    folder = make_version(tmp_path, "v1")
    before = _all_files(tmp_path)
    assert store_cli.main(["--store-uri", uri, "publish", "../../x", str(folder)]) == 2
    assert "not a valid service name" in capsys.readouterr().err
    assert _all_files(tmp_path) == before and not (tmp_path / "a" / "x").exists()
    assert store_cli.main(["--store-uri", uri, "publish", "demo", str(folder)]) == 0
    assert (root / "demo" / "LATEST").read_text().strip() == "v1"
