"""TensorFlow Datasets builders for the ISIC archives; importing registers them."""

from tfds_isic.ham10000 import ham10000_dataset_builder  # noqa: F401
from tfds_isic.isic2017 import isic2017_dataset_builder  # noqa: F401
from tfds_isic.isic2018_task1 import isic2018_task1_dataset_builder  # noqa: F401
from tfds_isic.isic2019 import isic2019_dataset_builder  # noqa: F401
from tfds_isic.isic2020 import isic2020_dataset_builder  # noqa: F401
from tfds_isic.synthetic_lesions import synthetic_lesions_dataset_builder  # noqa: F401
