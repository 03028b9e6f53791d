"""skinkeras.inference.patient: each challenge's metadata CSV read into a model's
age / sex / site inputs, against values written out by hand; unknowns counted;
what cannot be read refused, naming file and column."""

import numpy as np
import pytest

from skinkeras.inference import patient
from tests import deploy_fixtures as fx

# fx.ENCODING: sex female, male; site anterior torso, head/neck, lower extremity.
IDS = ["ISIC_1", "ISIC_2", "ISIC_3", "ISIC_4"]


def write(path, text):
    path.write_text(text)
    return path


def check(table, ids, age, sex, site):
    inputs = table.inputs(ids)
    np.testing.assert_array_equal(inputs["age"], np.array(age, np.float32))
    np.testing.assert_array_equal(inputs["sex"], np.array(sex, np.int32))
    np.testing.assert_array_equal(inputs["site"], np.array(site, np.int32))
    assert [inputs[k].dtype for k in ("age", "sex", "site")] == [
        np.float32,
        np.int32,
        np.int32,
    ]


def test_isic_2019_columns_and_every_kind_of_unknown(tmp_path):
    path = write(
        tmp_path / "ISIC_2019_Test_Metadata.csv",
        "image,age_approx,anatom_site_general,lesion_id,sex\n"
        "ISIC_1,55.0,lower extremity,L1,male\n"
        "ISIC_2,,Head/Neck ,L2, Female\n"  # case and spaces ignored
        "ISIC_3,unknown,palms/soles,L3,unknown\n"  # site not in the run's names
        "ISIC_4,NaN,,L4,\n",
    )
    table = patient.read_csv(path, fx.ENCODING)
    ids = [*IDS, "ISIC_5"]  # ISIC_5 has no row
    check(table, ids, [55, -1, -1, -1, -1], [1, 0, -1, -1, -1], [2, 1, -1, -1, -1])
    summary = table.summary(ids)
    assert (summary.images, summary.without_row) == (5, 1)
    assert summary.unknown == {"age": 4, "sex": 3, "site": 3}
    assert summary.columns == {
        "age": "age_approx",
        "sex": "sex",
        "site": "anatom_site_general",
    }
    assert summary.unrecognised == {"sex": {}, "site": {"palms/soles": 1}}
    assert str(summary) == (
        f"Patient metadata from {path}: 5 image(s), 1 without a row; unknown to "
        "the model: age 4, sex 3, site 3. Not in the model's site names: "
        "'palms/soles' 1."
    )


@pytest.mark.parametrize(
    "header, row, columns",
    [
        # ISIC 2017: no site at all.
        (
            "image_id,age_approximate,sex",
            "ISIC_1,70,female",
            {"age": "age_approximate", "sex": "sex", "site": None},
        ),
        # ISIC 2020 (training ground truth; the same columns in its metadata).
        (
            "image_name,patient_id,sex,age_approx,anatom_site_general_challenge,"
            "diagnosis,benign_malignant,target",
            "ISIC_1,IP_1,female,70.0,anterior torso,nevus,benign,0",
            {
                "age": "age_approx",
                "sex": "sex",
                "site": "anatom_site_general_challenge",
            },
        ),
        # HAM10000.
        (
            "lesion_id,image_id,dx,dx_type,age,sex,localization",
            "HAM_1,ISIC_1,nv,histo,70.0,female,anterior torso",
            {"age": "age", "sex": "sex", "site": "localization"},
        ),
    ],
    ids=["isic2017", "isic2020", "ham10000"],
)
def test_each_challenge_layout(tmp_path, header, row, columns):
    table = patient.read_csv(
        write(tmp_path / "m.csv", f"{header}\n{row}\n"), fx.ENCODING
    )
    site = -1 if columns["site"] is None else 0
    check(table, ["ISIC_1"], [70], [0], [site])
    summary = table.summary(["ISIC_1"])
    assert summary.columns == columns
    assert summary.unknown == {"age": 0, "sex": 0, "site": int(site < 0)}
    assert ("site 1 (no column)" in str(summary)) == (columns["site"] is None)


def test_byte_order_mark_and_negative_age(tmp_path):
    # Excel writes a BOM before the header; -1 is the builders' unknown age.
    path = tmp_path / "m.csv"
    path.write_bytes("\ufeffimage_id,age,sex\nISIC_1,-1,male\n".encode())
    check(patient.read_csv(path, fx.ENCODING), ["ISIC_1"], [-1], [1], [-1])


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "name,age_approx,sex\nISIC_1,50,male\n",
            r"has no image id column.*"
            r"Received: columns=\['name', 'age_approx', 'sex'\]",
        ),
        (
            "image,diagnosis\nISIC_1,MEL\n",
            r"has no patient metadata column.*"
            r"Received: columns=\['image', 'diagnosis'\]",
        ),
        (
            "image,age_approx\nISIC_1,fifty\n",
            r"column 'age_approx'.*'ISIC_1'.*"
            r"Received: age_approx='fifty'",
        ),
        ("image,age_approx\nISIC_1,inf\n", r"Received: age_approx='inf'"),
        (
            "image,sex\nISIC_1,male\nISIC_1,female\n",
            r"more than one row.*"
            r"column 'image'.*Received: image_ids=\['ISIC_1'\]",
        ),
    ],
    ids=["no_id", "no_metadata", "age_text", "age_inf", "repeated"],
)
def test_refusals_name_file_and_column(tmp_path, text, message):
    path = write(tmp_path / "meta.csv", text)
    with pytest.raises(ValueError, match=message) as error:
        patient.read_csv(path, fx.ENCODING)
    assert str(path) in str(error.value)
