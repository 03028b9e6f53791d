"""Patient metadata of image files, from a challenge's metadata CSV (issue 26, part 2).

A model trained with `--metadata` takes, beside each image, its patient's age, sex
and anatomic site (`skinkeras.models.pipeline`: age float32 in years, -1 unknown;
sex and site int32 indices into the run's vocabulary, -1 unknown). `read_csv` reads
them from the metadata CSV that comes with the images, whichever challenge's column
names it uses (`skinkeras.config.METADATA_CSV_COLUMNS`)::

    table = patient.read_csv("ISIC_2019_Test_Metadata.csv", run.metadata_encoding)
    table.inputs(["ISIC_0034321", ...])  # {"age", "sex", "site"} numpy arrays
    print(table.summary(image_ids))      # how many images / values are unknown

Nothing is refused for being missing: an image without a row, an absent column and
an empty, "unknown" or "NaN" value are unknown to the model, and so is a sex or site
the run's vocabulary lacks (compared without case; e.g. HAM10000's `localization`
"back" for a run trained on ISIC's `anatom_site_general`). The summary counts them,
so a prediction made mostly without metadata is visible. What cannot be read is
refused, naming the file and the column: no image id column, no metadata column at
all, an age that is not a number, two rows for one image.
"""

import collections
import csv
import dataclasses
import math
import pathlib

import numpy as np

from skinkeras.config import METADATA_CSV_COLUMNS, MISSING_VALUES

FIELDS = ("age", "sex", "site")
UNKNOWN_AGE = -1.0
UNKNOWN_INDEX = -1


@dataclasses.dataclass(frozen=True)
class Summary:
    """How much of the images' metadata the model gets (`PatientMetadata.summary`).

    Attributes:
        path: the CSV.
        images: how many images.
        without_row: how many have no row in the CSV.
        unknown: ``{field: count}`` of images whose value is unknown (those without
            a row included).
        columns: ``{field: column}`` read, None where the CSV has none.
        unrecognised: ``{field: {value: count}}`` of the values outside the run's
            vocabulary (read as unknown).
    """

    path: str
    images: int
    without_row: int
    unknown: dict
    columns: dict
    unrecognised: dict

    def __str__(self):
        unknown = ", ".join(
            f"{field} {self.unknown[field]}"
            + ("" if self.columns[field] else " (no column)")
            for field in FIELDS
        )
        line = (
            f"Patient metadata from {self.path}: {self.images} image(s), "
            f"{self.without_row} without a row; unknown to the model: {unknown}."
        )
        for field, values in self.unrecognised.items():
            if values:
                shown = ", ".join(f"{value!r} {n}" for value, n in values.items())
                line += f" Not in the model's {field} names: {shown}."
        return line


@dataclasses.dataclass(frozen=True)
class PatientMetadata:
    """The metadata rows of a CSV, as a model's inputs (`read_csv`).

    Attributes:
        path: the CSV.
        columns: ``{field: column}`` read, None where the CSV has none.
        rows: ``{image id: (age, sex index, site index)}``, -1 unknown.
        raw: ``{image id: (sex text, site text)}``, for the summary.
    """

    path: str
    columns: dict
    rows: dict
    raw: dict

    def inputs(self, image_ids):
        """``{"age": float32 (N,), "sex": int32 (N,), "site": int32 (N,)}`` of
        `image_ids`, in order; unknown for an id without a row."""
        unknown = (UNKNOWN_AGE, UNKNOWN_INDEX, UNKNOWN_INDEX)
        values = [self.rows.get(key, unknown) for key in image_ids]
        age, sex, site = zip(*values, strict=True) if values else ((), (), ())
        return {
            "age": np.asarray(age, np.float32),
            "sex": np.asarray(sex, np.int32),
            "site": np.asarray(site, np.int32),
        }

    def summary(self, image_ids):
        """A `Summary` of what the model gets for `image_ids`."""
        image_ids = list(image_ids)
        inputs = self.inputs(image_ids)
        unrecognised = {field: collections.Counter() for field in ("sex", "site")}
        for key in image_ids:
            for field, text in zip(
                ("sex", "site"), self.raw.get(key, ()), strict=False
            ):
                if text is not None:
                    unrecognised[field][text] += 1
        return Summary(
            path=self.path,
            images=len(image_ids),
            without_row=sum(key not in self.rows for key in image_ids),
            unknown={
                "age": int(np.sum(inputs["age"] < 0)),
                "sex": int(np.sum(inputs["sex"] < 0)),
                "site": int(np.sum(inputs["site"] < 0)),
            },
            columns=dict(self.columns),
            unrecognised={k: dict(v.most_common()) for k, v in unrecognised.items()},
        )


def _missing(value):
    return (value or "").strip().lower() in MISSING_VALUES


def _age(value, *, path, column, image_id):
    """Years as a float; -1 when missing or negative (the builders' -1)."""
    if _missing(value):
        return UNKNOWN_AGE
    try:
        age = float(value)
    except ValueError:
        age = math.nan
    if not math.isfinite(age):
        raise ValueError(
            f"{path}: column {column!r} holds ages in years, and image {image_id!r} "
            f"has {value!r} (leave it empty or write 'unknown' if it is not known). "
            f"Received: {column}={value!r}"
        )
    return age if age >= 0 else UNKNOWN_AGE


def _index(value, names):
    """(index into `names` or -1, the text when it is recorded but not in them)."""
    if _missing(value):
        return UNKNOWN_INDEX, None
    text = value.strip()
    lowered = [name.lower() for name in names]
    if text.lower() in lowered:
        return lowered.index(text.lower()), None
    return UNKNOWN_INDEX, text


def _column(header, field):
    return next((c for c in METADATA_CSV_COLUMNS[field] if c in header), None)


def read_csv(path, encoding):
    """Reads a metadata CSV for a model with metadata (module doc).

    Args:
        path: the CSV; its header names the columns (`METADATA_CSV_COLUMNS`).
        encoding: the model's `metadata_encoding` (``{"age_range", "sex",
            "site"}``: `Run.metadata_encoding`, or `pipeline_metadata(model)`'s).

    Returns:
        A `PatientMetadata`.

    Raises:
        FileNotFoundError: no file at `path`.
        ValueError: no image id column, none of age, sex and site, an age that is
            not a number, or two rows for one image (each naming file and column).
    """
    path = pathlib.Path(path)
    with open(path, newline="", encoding="utf-8-sig") as file:  # Excel's BOM
        reader = csv.DictReader(file)
        header = [name.strip() for name in reader.fieldnames or ()]
        reader.fieldnames = header
        records = list(reader)
    key = _column(header, "image_id")
    if key is None:
        raise ValueError(
            f"{path} has no image id column: expected one of "
            f"{list(METADATA_CSV_COLUMNS['image_id'])}. Received: columns={header}"
        )
    columns = {field: _column(header, field) for field in FIELDS}
    if not any(columns.values()):
        expected = [c for field in FIELDS for c in METADATA_CSV_COLUMNS[field]]
        raise ValueError(
            f"{path} has no patient metadata column: expected some of {expected}. "
            f"Received: columns={header}"
        )
    rows, raw, repeated = {}, {}, []
    for record in records:
        image_id = (record.get(key) or "").strip()
        if not image_id:
            continue  # a blank line at the end
        if image_id in rows:
            repeated.append(image_id)
        age = UNKNOWN_AGE
        if columns["age"]:
            age = _age(
                record.get(columns["age"]),
                path=path,
                column=columns["age"],
                image_id=image_id,
            )
        sex, sex_text = _index(record.get(columns["sex"] or ""), encoding["sex"])
        site, site_text = _index(record.get(columns["site"] or ""), encoding["site"])
        rows[image_id] = (age, sex, site)
        raw[image_id] = (sex_text, site_text)
    if repeated:
        raise ValueError(
            f"{path} has more than one row for some images (column {key!r}). "
            f"Received: image_ids={sorted(set(repeated))[:10]}"
        )
    return PatientMetadata(path=str(path), columns=columns, rows=rows, raw=raw)
