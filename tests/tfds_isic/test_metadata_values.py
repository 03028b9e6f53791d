"""The builders' sex and anatomic site as ClassLabels (issue 26): the official names,
CSV values read into them (any case, stripped), and values outside them stored as
unknown with one warning per build that names the column, the values and counts."""

import csv
import io
import logging

import pytest
import tensorflow_datasets as tfds

import tfds_isic  # noqa: F401  (registers the builders)
from tests.tfds_isic import fake_grouped, fake_isic
from tests.tfds_isic.helpers import (
    HAM10000_LOCALIZATIONS,
    ISIC2019_SITES,
    ISIC2020_SITES,
    SEXES,
    build,
    examples,
    rewrite_csv,
    rewrite_zip,
)

WARNING = "metadata values outside their feature's names"


@pytest.mark.parametrize(
    "name, feature, names",
    [
        ("isic2017", "sex", SEXES),
        ("isic2019", "sex", SEXES),
        ("isic2019", "anatom_site_general", ISIC2019_SITES),
        ("isic2020", "sex", SEXES),
        ("isic2020", "anatom_site_general", ISIC2020_SITES),
        ("ham10000", "sex", SEXES),
        ("ham10000", "localization", HAM10000_LOCALIZATIONS),
        ("synthetic_lesions", "sex", SEXES),
        ("synthetic_lesions", "anatom_site_general", ISIC2019_SITES),
    ],
)
def test_metadata_features_are_class_labels_of_the_official_values(
    tmp_path, name, feature, names
):
    # The features come from `_info`: nothing is built.
    got = tfds.builder(name, data_dir=str(tmp_path)).info.features[feature]
    assert isinstance(got, tfds.features.ClassLabel)
    assert got.names == names


def _warnings(caplog):
    return [r.getMessage() for r in caplog.records if WARNING in r.getMessage()]


def _build(caplog, name, tmp_path):
    with caplog.at_level(logging.WARNING):
        return build(f"{name}/256", tmp_path / "data", tmp_path / "manual")


def _all_examples(builder):
    """{image_id: example} of every split."""
    got = {}
    for split in builder.info.splits:
        got.update(examples(builder, split))
    return got


def _edit_csv(path, edits):
    """Rewrites the CSV at `path`: the row whose image id (column `image`,
    `image_name` or `image_id`) is a key of `edits` gets its {column: value}."""
    with open(path, newline="") as f:
        header = next(csv.reader(f))
    index = next(
        header.index(k) for k in ("image", "image_name", "image_id") if k in header
    )

    def transform(row):
        new = edits.get(row[index], {})
        return [[new.get(c, value) for c, value in zip(header, row, strict=True)]]

    rewrite_csv(path, transform)


SITE = "anatom_site_general"


@pytest.mark.parametrize(
    "name, edits, site, expected, warning",
    [
        pytest.param(
            "isic2019",
            {
                "ISIC_2019_Training_Metadata.csv": {
                    "ISIC_0000000": {SITE: " Posterior Torso ", "sex": "MALE"},
                    "ISIC_0000002": {SITE: "scalp", "sex": "x"},
                    "ISIC_0000003": {SITE: "scalp"},
                },
                "ISIC_2019_Test_Metadata.csv": {"ISIC_0100000": {SITE: "scalp"}},
            },
            SITE,
            # male 1, posterior torso 6; unknown 2 and 8; ISIC_0000003's female (0)
            # and ISIC_0100000's male (1) as fake_grouped writes them.
            {
                "ISIC_0000000": (1, 6),
                "ISIC_0000002": (2, 8),
                "ISIC_0000003": (0, 8),
                "ISIC_0100000": (1, 8),
            },
            "anatom_site_general: 'scalp' (3); sex: 'x' (1)",
            id="isic2019",
        ),
        pytest.param(
            "isic2020",
            {
                # ISIC 2019's "anterior torso" is no ISIC 2020 site.
                "ISIC_2020_Training_GroundTruth_v2.csv": {
                    "ISIC_0000000": {
                        "sex": " Female",
                        "anatom_site_general_challenge": "Lower Extremity",
                    },
                    "ISIC_0000001": {"anatom_site_general_challenge": "anterior torso"},
                },
                # The public copy's column names (fake_grouped writes those).
                "ISIC_2020_Test_Metadata.csv": {
                    "ISIC_0200000": {"sex": "F", SITE: "anterior torso"},
                },
            },
            SITE,
            # female 0 (ISIC_0000001's as fake_grouped writes it), lower extremity
            # 1; unknown sex 2, unknown site 6.
            {
                "ISIC_0000000": (0, 1),
                "ISIC_0000001": (0, 6),
                "ISIC_0200000": (2, 6),
            },
            "anatom_site_general: 'anterior torso' (1); "
            "anatom_site_general_challenge: 'anterior torso' (1); sex: 'F' (1)",
            id="isic2020",
        ),
        pytest.param(
            "ham10000",
            {
                # HAM10000's "unknown" is the ClassLabel's, in any case.
                "HAM10000_metadata.csv": {
                    "ISIC_0000000": {
                        "sex": "Male",
                        "localization": " Upper Extremity ",
                    },
                    "ISIC_0000001": {"localization": "palms/soles"},
                    "ISIC_0000002": {"localization": "UNKNOWN"},
                    "ISIC_0000005": {"localization": "palms/soles"},
                },
            },
            "localization",
            # male 1, upper extremity 13; unknown localization 14; the sexes of
            # rows 1, 2, 5 as fake_grouped writes them: female 0, unknown 2.
            {
                "ISIC_0000000": (1, 13),
                "ISIC_0000001": (0, 14),
                "ISIC_0000002": (2, 14),
                "ISIC_0000005": (0, 14),
            },
            "localization: 'palms/soles' (2)",
            id="ham10000",
        ),
    ],
)
def test_values_in_any_case_are_read_and_odd_ones_logged_once(
    tmp_path, caplog, name, edits, site, expected, warning
):
    getattr(fake_grouped, f"write_{name}")(tmp_path / "manual")
    for file, rows in edits.items():
        _edit_csv(tmp_path / "manual" / file, rows)
    got = _all_examples(_build(caplog, name, tmp_path))
    assert {i: (int(got[i]["sex"]), int(got[i][site])) for i in expected} == expected
    assert _warnings(caplog) == [
        f"{name}: metadata values outside their feature's names, stored as "
        f"'unknown': {warning}"
    ]


def _metadata_csv(sexes):
    """A `rewrite_zip` transform: the zip's metadata CSV with `sexes` ({image_id:
    sex}) in place of those rows' sex."""

    def transform(name, data):
        if not name.endswith("_metadata.csv"):
            return name, data
        header, *rows = list(csv.reader(io.StringIO(data.decode())))
        rows = [[*row[:2], sexes.get(row[0], row[2])] for row in rows]
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows([header, *rows])
        return name, out.getvalue().encode()

    return transform


def test_isic2017_logs_the_odd_values_of_all_splits_once(tmp_path, caplog):
    fake_isic.write_isic2017(tmp_path / "manual")
    manual = tmp_path / "manual"
    # Training ids are ISIC_00000xx, test ids ISIC_02000xx (fake_isic.image_ids).
    rewrite_zip(
        manual / "ISIC-2017_Training_Data.zip",
        _metadata_csv({"ISIC_0000000": " Female ", "ISIC_0000001": "?"}),
    )
    rewrite_zip(
        manual / "ISIC-2017_Test_v2_Data.zip",
        _metadata_csv({"ISIC_0200000": "?", "ISIC_0200001": "n/a"}),
    )
    got = _all_examples(_build(caplog, "isic2017", tmp_path))
    assert [int(got[i]["sex"]) for i in ("ISIC_0000000", "ISIC_0000001")] == [0, 2]
    assert [int(got[i]["sex"]) for i in ("ISIC_0200000", "ISIC_0200001")] == [2, 2]
    assert _warnings(caplog) == [
        "isic2017: metadata values outside their feature's names, stored as "
        "'unknown': sex: '?' (2), 'n/a' (1)"
    ]


def test_known_values_and_empty_ones_log_nothing(tmp_path, caplog):
    # fake_grouped writes empty sites and sexes, and HAM10000's own "unknown".
    fake_grouped.write_ham10000(tmp_path / "manual")
    _build(caplog, "ham10000", tmp_path)
    assert _warnings(caplog) == []
