"""
Review URLs of stored images: the API server's route for local folders, presigned URLs for object storage,
and every check that keeps the route to the images of stored data sets and nothing else on its disk.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from airflow_provider_apiframe.exceptions import ApiframeValidationError
from airflow_provider_apiframe.storage.review_urls import (
    NotServed,
    markdown_image,
    markdown_text,
    open_served_image,
    review_roots,
    review_url,
    served_url,
)
from tests.conftest import png

DIGEST = "ab" * 32


@pytest.fixture
def staged(tmp_path, stage_images):
    """Three images staged under ``<tmp>/root/staging``; the root is what the API server may serve."""
    root = tmp_path / "root"
    return root, stage_images(root / "staging", ["a", "b", "c"])


def served(path: str, sha256: str, roots: list) -> bytes:
    image = open_served_image(path, sha256, [str(root) for root in roots])
    return b"".join(image.chunks())


def refused(path: str, sha256: str, roots: list) -> str:
    with pytest.raises(NotServed) as error:
        open_served_image(path, sha256, [str(root) for root in roots])
    return str(error.value)


def test_a_listed_image_is_served_whole_with_its_type_from_its_descriptor(staged):
    root, [(path, row), *_] = staged
    image = open_served_image(path, row.sha256, [str(root)])
    assert (image.content_type, image.size, image.sha256) == ("image/png", row.bytes, row.sha256)
    assert b"".join(image.chunks()) == Path(path).read_bytes()
    assert image.file.closed
    # A root given with a trailing slash, or through a link, is the same folder.
    link = root.parent / "root-link"
    link.symlink_to(root)
    assert (
        served(path, row.sha256, [f"{root}/"]) == served(path, row.sha256, [link]) == Path(path).read_bytes()
    )


@pytest.mark.parametrize(
    "shape",
    [
        lambda p: p.replace("/staging/", "/staging/../staging/"),
        lambda p: p.replace("/staging/", "/staging/./"),
        lambda p: p.replace("/staging/", "/staging//"),
        lambda p: os.path.relpath(p),
        lambda p: p + "\x00.png",
        lambda p: "/" + "x" * 5000 + p,
    ],
    ids=["dot-dot", "dot", "double-slash", "relative", "nul", "too-long"],
)
def test_a_path_that_is_not_absolute_and_normal_is_refused_before_any_file_is_touched(staged, shape):
    root, [(path, row), *_] = staged
    assert refused(shape(path), row.sha256, [root]) == "the path is not an absolute, normal path"


def test_traversal_out_of_the_root_is_refused_even_to_a_real_data_set(tmp_path, staged, stage_images):
    root, _ = staged
    [(outside, row)] = stage_images(tmp_path / "elsewhere", ["x"])
    assert "under none of" in refused(outside, row.sha256, [root])
    # Spelled as a path under the root: not normal, so refused; resolved, it is outside anyway.
    sneaky = f"{root}/../elsewhere/{os.path.relpath(outside, tmp_path / 'elsewhere')}"
    assert refused(sneaky, row.sha256, [root]) == "the path is not an absolute, normal path"
    # A root's sibling whose name starts like it is not inside it.
    [(sibling, sibling_row)] = stage_images(tmp_path / "root-other", ["y"])
    assert "under none of" in refused(sibling, sibling_row.sha256, [root])


def test_a_link_inside_the_root_to_a_file_outside_is_refused(tmp_path, staged, stage_images):
    root, [(path, _), *_] = staged
    secret = tmp_path / "secret.png"
    secret.write_bytes(png(99))
    digest = hashlib.sha256(secret.read_bytes()).hexdigest()
    # Listed in the part's manifest, with the outside file's digest: still not served.
    part = os.path.dirname(path)
    os.symlink(secret, os.path.join(part, "11111111-1111-4111-8111-111111111111-1.png"))
    [(_, row)] = stage_images(tmp_path / "scratch", ["z"])
    listed = dataclasses.replace(row, file_name="11111111-1111-4111-8111-111111111111-1.png", sha256=digest)
    with open(os.path.join(part, "metadata.jsonl"), "a") as manifest:
        manifest.write(listed.to_line())
    linked = os.path.join(part, listed.file_name)
    assert "under none of" in refused(linked, digest, [root])


def test_a_file_its_manifest_does_not_list_is_refused_whatever_its_digest(staged):
    root, [(path, _), *_] = staged
    unlisted = os.path.join(os.path.dirname(path), "22222222-2222-4222-8222-222222222222-1.png")
    with open(unlisted, "wb") as out:
        out.write(png(7))
    digest = hashlib.sha256(png(7)).hexdigest()
    assert refused(unlisted, digest, [root]) == "the part's manifest does not list the file"


def test_the_digest_must_be_the_manifests_and_still_the_files(staged):
    root, [(path, row), (_, other_row), *_] = staged
    assert refused(path, other_row.sha256, [root]) == "the manifest records another digest for the file"
    assert refused(path, row.sha256.upper(), [root]) == "the digest is not 64 lowercase hex digits"
    # Rewritten in place, at the same size: the bytes no longer have the recorded digest.
    data = bytearray(Path(path).read_bytes())
    data[-20] ^= 0xFF
    with open(path, "wb") as out:
        out.write(bytes(data))
    assert refused(path, row.sha256, [root]) == "the file's bytes no longer have the manifest's digest"
    # Replaced by another image: another size than its row.
    with open(path, "wb") as out:
        out.write(png(3, size=(40, 30)))
    assert refused(path, row.sha256, [root]).startswith("the file's size is not the manifest's")


def test_only_images_of_a_type_browsers_show_are_served(staged):
    root, [(path, row), *_] = staged
    manifest = os.path.join(os.path.dirname(path), "metadata.jsonl")
    lines = Path(manifest).read_text().splitlines()
    edited = [json.loads(line) for line in lines]
    edited[0].update(kind="video", content_type="video/mp4")
    with open(manifest, "w") as out:
        out.write("".join(json.dumps(line) + "\n" for line in edited))
    assert refused(path, row.sha256, [root]) == "the manifest records a video/mp4, not an image"
    # Recorded as a JPEG but the bytes are a PNG: the type served must be the bytes' type.
    edited[0].update(kind="image", content_type="image/jpeg")
    with open(manifest, "w") as out:
        out.write("".join(json.dumps(line) + "\n" for line in edited))
    assert refused(path, row.sha256, [root]) == "the file's bytes are not the manifest's content type"


def test_the_manifest_hidden_files_and_files_outside_parts_are_refused(staged):
    root, [(path, row), *_] = staged
    manifest = os.path.join(os.path.dirname(path), "metadata.jsonl")
    digest = hashlib.sha256(Path(manifest).read_bytes()).hexdigest()
    assert refused(manifest, digest, [root]) == "the path is not a file of a data set's part"
    hidden = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.tmp")
    os.link(path, hidden)
    assert refused(hidden, row.sha256, [root]) == "the path is not a file of a data set's part"
    loose = root / "staging" / os.path.basename(path)
    os.link(path, loose)
    assert refused(str(loose), row.sha256, [root]) == "the path is not a file of a data set's part"


def test_a_manifest_that_links_elsewhere_is_refused(tmp_path, staged):
    root, [(path, row), *_] = staged
    manifest = os.path.join(os.path.dirname(path), "metadata.jsonl")
    os.replace(manifest, tmp_path / "metadata.jsonl")
    os.symlink(tmp_path / "metadata.jsonl", manifest)
    assert refused(path, row.sha256, [root]) == "the part's manifest is a link to elsewhere"


def test_nothing_is_served_without_a_root_nor_from_a_root_itself(staged):
    _, [(path, row), *_] = staged
    assert "names no folder" in refused(path, row.sha256, [])
    assert "under none of" in refused(path, row.sha256, [path])


def test_review_roots_are_the_absolute_folders_of_the_option(monkeypatch, caplog):
    monkeypatch.setenv("AIRFLOW__APIFRAME__REVIEW_ROOTS", " /data/staging, relative/folder,\n/mnt/review ,")
    with caplog.at_level(logging.WARNING):
        assert review_roots() == ["/data/staging", "/mnt/review"]
    assert "'relative/folder': not an absolute path" in caplog.text
    monkeypatch.delenv("AIRFLOW__APIFRAME__REVIEW_ROOTS")
    assert review_roots() == []


@pytest.mark.parametrize(
    ("base_url", "prefix"),
    [
        ("https://airflow.example.com", "https://airflow.example.com/apiframe/images?"),
        ("https://airflow.example.com/team-a/", "https://airflow.example.com/team-a/apiframe/images?"),
        # No base URL: relative to the UI's <base href>, the API server's root.
        ("", "apiframe/images?"),
    ],
)
def test_a_local_file_gets_the_api_servers_route_under_its_base_url(monkeypatch, base_url, prefix):
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", base_url)
    path = "/data/review & more/part-0123456789abcdef/a b+c#1.png"
    for given in (path, f"file://{path}"):
        url = review_url(given, DIGEST)
        assert url.startswith(prefix)
        assert parse_qs(urlsplit(url).query) == {"path": [path], "sha256": [DIGEST]}
    assert served_url(path, DIGEST, base_url="http://h:1/") == review_url(path, DIGEST, base_url="http://h:1")


def test_the_task_log_says_when_the_api_server_would_refuse_a_file(monkeypatch, caplog):
    monkeypatch.setenv("AIRFLOW__APIFRAME__REVIEW_ROOTS", "/data/staging")
    with caplog.at_level(logging.INFO):
        review_url("/data/staging/part-0123456789abcdef/x.png", DIGEST, base_url="http://h")
        assert "refuse" not in caplog.text
        review_url("/tmp/part-0123456789abcdef/x.png", DIGEST, base_url="http://h")
    assert "under none of [apiframe] review_roots (/data/staging)" in caplog.text


def test_a_digest_that_is_not_one_is_refused():
    with pytest.raises(ApiframeValidationError, match="must be 64 hex digits"):
        review_url("/data/x.png", "not-a-digest", base_url="http://h")


@pytest.fixture
def signing_storage():
    """An fsspec filesystem that presigns as s3fs does (``sign(path, expiration)``): what it was asked."""
    import fsspec
    from fsspec.implementations.memory import MemoryFileSystem

    asked = []

    class SigningFileSystem(MemoryFileSystem):
        protocol = "signing"

        def sign(self, path, expiration=100, **kwargs):
            # s3fs, gcsfs and adlfs take a path with its protocol or without; Airflow 2's UPath hands a
            # protocol it has no class for as "/signing:/...".
            path = re.sub(r"^/?signing:/*", "", path)
            asked.append((path, expiration))
            return f"https://bucket.example/{path}?X-Expires={expiration}&X-Signature=s1g"

    fsspec.register_implementation("signing", SigningFileSystem, clobber=True)
    return asked


@pytest.mark.filterwarnings("ignore:UPath 'signing' filesystem not explicitly implemented")
def test_object_storage_that_presigns_gets_a_presigned_url_valid_for_the_review(signing_storage):
    url = review_url("signing://staging/part-0123456789abcdef/x.png", DIGEST, expires_in=timedelta(days=2))
    assert (
        url == "https://bucket.example/staging/part-0123456789abcdef/x.png?X-Expires=172800&X-Signature=s1g"
    )
    assert signing_storage == [("staging/part-0123456789abcdef/x.png", 172800)]
    with pytest.raises(ApiframeValidationError, match="within 1 s and 7 days"):
        review_url("signing://staging/x.png", DIGEST, expires_in=timedelta(days=8))


def test_storage_that_neither_presigns_nor_is_local_has_no_review_url():
    with pytest.raises(ApiframeValidationError, match="memory:// storage cannot presign URLs"):
        review_url("memory://staging/part-0123456789abcdef/x.png", DIGEST)


def test_markdown_shows_labels_as_text_and_keeps_the_url_whole():
    url = "https://h/apiframe/images?path=%2Fa%2F(b)%20c.png&sha256=ab"
    assert markdown_image("shot [1] *best*", url) == (
        r"![shot \[1\] \*best\*](<https://h/apiframe/images?path=%2Fa%2F(b)%20c.png&sha256=ab>)"
    )
    assert markdown_image("x", "https://h/a<b>") == "![x](<https://h/a%3Cb%3E>)"
    assert markdown_text("a | b\n# c") == r"a \| b \# c"
