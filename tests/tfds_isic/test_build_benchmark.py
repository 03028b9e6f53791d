"""benchmarks/build_isic2020.py: the generated rows look like ISIC 2020 and the
class-share table counts what the splitter assigned (the `tfds build` run itself is
the benchmark, not a test)."""

import collections
import re

from benchmarks import build_isic2020
from tests.tfds_isic import fake_grouped
from tfds_isic.isic2020 import isic2020_dataset_builder as isic2020


def test_generated_rows_have_isic2020_group_sizes_and_shares():
    rows = fake_grouped.isic2020_rows(5000, seed=0)
    assert len(rows) == 5000 and len({i for i, _, _ in rows}) == 5000
    sizes = collections.Counter(p for _, p, _ in rows)
    assert 12 < 5000 / len(sizes) < 20  # ISIC 2020: 33,126 / 2,056 = 16.1
    share = sum(y == "melanoma" for _, _, y in rows) / len(rows)
    assert 0.013 < share < 0.023  # ISIC 2020: 1.8 %


def test_share_table_counts_each_split_once():
    rows = fake_grouped.isic2020_rows(600, seed=1)
    config = isic2020.Builder.BUILDER_CONFIGS[0]
    table = build_isic2020.share_table(rows, config)
    lines = [
        line for line in table.splitlines() if re.match(r"\| (train|val|test)", line)
    ]
    assert [line.split(" | ")[0][2:] for line in lines] == [
        "train",
        "validation",
        "test",
    ]
    images = [int(line.split(" | ")[1]) for line in lines]
    assert sum(images) == 600
    melanomas = [int(line.split(" | ")[3].split()[0]) for line in lines]
    assert sum(melanomas) == sum(y == "melanoma" for _, _, y in rows)
    assert table.endswith("patients in more than one split: 0")
