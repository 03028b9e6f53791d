"""Building the ISIC datasets in tests: offline, from a manual dir, one call."""

import contextlib
import csv
import os
import zipfile
from unittest import mock

import pytest
import tensorflow_datasets as tfds

from tests.tfds_isic import fake_isic
from tfds_isic import archives, settings

# The ClassLabel names of the builders' metadata, written out from the datasets'
# own documentation (tfds_isic/*/README.md, Sources), not taken from the builders:
# the official values in alphabetical order, then "unknown".
SEXES = ["female", "male", "unknown"]
ISIC2019_SITES = [
    "anterior torso",
    "head/neck",
    "lateral torso",
    "lower extremity",
    "oral/genital",
    "palms/soles",
    "posterior torso",
    "upper extremity",
    "unknown",
]
ISIC2020_SITES = [
    "head/neck",
    "lower extremity",
    "oral/genital",
    "palms/soles",
    "torso",
    "upper extremity",
    "unknown",
]
HAM10000_LOCALIZATIONS = [
    "abdomen",
    "acral",
    "back",
    "chest",
    "ear",
    "face",
    "foot",
    "genital",
    "hand",
    "lower extremity",
    "neck",
    "scalp",
    "trunk",
    "upper extremity",
    "unknown",
]


def _refuse_download(self, urls):
    raise AssertionError(f"tried to download {urls}")


@contextlib.contextmanager
def offline(*, skip_md5=True, download=None):
    """Builds inside run offline, with or without the MD5 check.

    Args:
        skip_md5: sets TFDS_ISIC_SKIP_MD5=1 (fake archives have other MD5s); False
            removes it.
        download: replacement of `DownloadManager.download`; by default any
            download attempt fails the test at once (offline it would retry).
    """
    with (
        mock.patch.dict(os.environ, {settings.SKIP_MD5_ENV: "1"}),
        mock.patch.object(
            tfds.download.DownloadManager, "download", download or _refuse_download
        ),
    ):
        if not skip_md5:
            del os.environ[settings.SKIP_MD5_ENV]
        yield


def build(name, data_dir, manual_dir=None, *, skip_md5=True, download=None):
    """`download_and_prepare` of `name` (see `offline`); returns the builder.

    `manual_dir` is `--manual_dir`, or None for the TFDS default
    `<data_dir>/downloads/manual`.
    """
    with offline(skip_md5=skip_md5, download=download):
        builder = tfds.builder(name, data_dir=str(data_dir))
        config = tfds.download.DownloadConfig(
            manual_dir=None if manual_dir is None else str(manual_dir)
        )
        builder.download_and_prepare(download_config=config)
    return builder


def integrity_error(tmp_path, name):
    """The `IntegrityError` message of building `name` from `tmp_path / "manual"`."""
    with pytest.raises(archives.IntegrityError) as error:
        build(name, tmp_path / "data", tmp_path / "manual")
    return str(error.value)


def examples(builder, split, **kwargs):
    """{image_id: numpy example} of one split."""
    return {
        ex["image_id"].decode(): ex
        for ex in tfds.as_numpy(builder.as_dataset(split=split, **kwargs))
    }


def rewrite_zip(path, transform):
    """Rewrites a zip, passing each (name, data) through `transform` (None drops)."""
    with zipfile.ZipFile(path) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    out = {}
    for name, data in members.items():
        item = transform(name, data)
        if item is not None:
            out[item[0]] = item[1]
    fake_isic.write_zip(path, out)


def rewrite_csv(path, transform):
    """Rewrites a CSV, each data row (a list) replaced by the rows `transform` returns.

    `[]` drops the row, `[row, row]` repeats it; the header stays.
    """
    with open(path, newline="") as f:
        header, *rows = list(csv.reader(f))
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(new for row in rows for new in transform(row))


def replace_rows(path, replacements):
    """Rewrites a CSV (`rewrite_csv`): a row whose image id (first column) is a key
    of `replacements` becomes the rows `replacements[id](row)` returns; the others
    stay."""

    def transform(row):
        replace = replacements.get(row[0])
        return [row] if replace is None else replace(row)

    rewrite_csv(path, transform)
