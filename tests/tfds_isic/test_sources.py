"""tfds_isic.sources: the MD5 check of the official files."""

import hashlib

import pytest
from etils import epath

from tfds_isic import settings, sources


def test_md5_check_passes_matching_files(tmp_path, monkeypatch):
    monkeypatch.delenv(settings.SKIP_MD5_ENV, raising=False)
    path = tmp_path / "a.csv"
    path.write_bytes(b"image_id,melanoma\n" * 100_000)
    expected = hashlib.md5(path.read_bytes()).hexdigest()
    assert sources.file_md5(path, chunk_size=4096) == expected
    good = sources.RemoteFile("a.csv", "https://x/a.csv", expected)
    sources.check_md5({"a.csv": epath.Path(path)}, [good])
    bad = sources.RemoteFile("a.csv", "https://x/a.csv", "0" * 32)
    with pytest.raises(ValueError, match="a.csv"):
        sources.check_md5({"a.csv": epath.Path(path)}, [bad])
    monkeypatch.setenv(settings.SKIP_MD5_ENV, "1")
    sources.check_md5({"a.csv": epath.Path(path)}, [bad])
