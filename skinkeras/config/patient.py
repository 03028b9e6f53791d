"""The patient metadata a run feeds beside the image (issue 26): which dataset
features hold it, and the encoding record (`TrainConfig.metadata_encoding`).

Part of the run configuration (`skinkeras.config` re-exports every name), kept in a
module of its own so that the configuration stays readable. Plain data and checks:
no TensorFlow. The Keras side of the encoding is `skinkeras.layers.MetadataEncoding`;
the reading of a dataset's vocabulary is `skinkeras.data.metadata`.
"""

import math

# Patient metadata (issue 26): the model's metadata inputs and the dataset features
# that may hold each, the first found (ISIC 2019 / 2020: anatom_site_general;
# HAM10000: localization). A run with `metadata` needs all three.
METADATA_FEATURES = {
    "age": ("age_approximate",),
    "sex": ("sex",),
    "site": ("anatom_site_general", "localization"),
}
# The value a builder stores for a missing sex or site (`tfds_isic.classification`).
UNKNOWN = "unknown"
# Deployment (issue 26 part 2): the columns of the challenges' metadata CSVs that
# hold each field, the first found (the builders read the same files: ISIC 2017
# `image_id,age_approximate,sex` (no site); ISIC 2019
# `image,age_approx,anatom_site_general,lesion_id,sex`; ISIC 2020
# `image_name,patient_id,sex,age_approx,anatom_site_general_challenge,...`;
# HAM10000 `image_id,...,age,sex,localization`). `skinkeras.inference.patient`
# reads them; a missing column leaves its field unknown.
METADATA_CSV_COLUMNS = {
    "image_id": ("image_id", "image", "image_name"),
    "age": ("age_approximate", "age_approx", "age"),
    "sex": ("sex",),
    "site": ("anatom_site_general", "anatom_site_general_challenge", "localization"),
}
# Values of a metadata CSV that mean "not recorded" (compared lower-cased): the
# builders' "unknown", pandas' NaN, and the usual spellings of "not available".
MISSING_VALUES = ("", UNKNOWN, "nan", "na", "n/a", "none", "null")
# Age is scaled linearly from [0, 90] years to [0, 1] and clipped. ISIC's
# `age_approx` is the age rounded to 5 years; the archive's and HAM10000's metadata
# CSVs hold 0 to 85 (tfds_isic/*/README.md), so 90 bounds every dataset built here.
AGE_RANGE = (0, 90)


def metadata_encoding(*, sex, site, age_range=AGE_RANGE):
    """The recorded encoding of a metadata run (`TrainConfig.metadata_encoding`).

    Args:
        sex: the dataset's sex names (its ClassLabel's, without "unknown").
        site: its anatomic site names, likewise.
        age_range: ``(low, high)`` years mapped to 0 and 1.

    Returns:
        ``{"age_range": [low, high], "sex": [...], "site": [...]}``; the model one-hot
        encodes sex and site over these names plus an unknown slot.
    """
    encoding = {"age_range": list(age_range), "sex": list(sex), "site": list(site)}
    check_metadata(metadata=True, metadata_encoding=encoding)
    return encoding


def check_metadata(*, metadata, metadata_encoding):
    if not metadata:
        if metadata_encoding is not None:
            raise ValueError(
                "`metadata_encoding` is used only with metadata=True (on the command "
                f"line: add --metadata). Received: metadata_encoding={metadata_encoding!r}"
            )
        return
    if metadata_encoding is None:
        raise ValueError(
            "metadata=True needs `metadata_encoding`: the dataset's vocabulary "
            "(`skinkeras.data.metadata_encoding(dataset)`; experiments.main reads "
            f"it). Received: metadata_encoding={metadata_encoding!r}"
        )
    ok = isinstance(metadata_encoding, dict) and set(metadata_encoding) == {
        "age_range",
        "sex",
        "site",
    }
    if ok:
        low, high = metadata_encoding["age_range"]
        names = metadata_encoding["sex"], metadata_encoding["site"]
        ok = (
            all(isinstance(v, (int, float)) and math.isfinite(v) for v in (low, high))
            and low < high
            and all(
                isinstance(n, list)
                and n
                and all(isinstance(name, str) and name for name in n)
                and len(set(n)) == len(n)
                and UNKNOWN not in n
                for n in names
            )
        )
    if not ok:
        raise ValueError(
            "`metadata_encoding` must be {'age_range': [low, high], 'sex': [names], "
            "'site': [names]} with low < high and distinct names other than "
            f"{UNKNOWN!r}. Received: metadata_encoding={metadata_encoding!r}"
        )
