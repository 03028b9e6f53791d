"""tf.data preprocessing maps, augmentation, oversampling and the input pipeline.

tf.data maps on RGB images in 0..255 (one image (H, W, 3) or a batch):
`resize_and_center_crop`, `max_rgb_illuminant`, `shades_of_gray_illuminant`,
`color_constancy`, `ben_graham` (the `keras.ops` functions of `skinkeras.layers`'
preprocessing layers, run on TensorFlow tensors: the TensorFlow backend only),
`apply_lesion_mask`, `preprocess(name)`; the same
as example → example ops registered by name, "lesion_mask" among them (`ops`);
`decode_image` for encoded bytes; `augment` (fastai v1's `get_transforms`, seeded,
stateless) and `augment_parameters`; `make_dataset`, `round_pixels` (the rounding of
its uint8 cache), `make_training_stream` (seeded epochs, fastai v1's shuffling and
oversampling, `sampling`), `dataset_info` and `metadata_encoding` (issue 26: the
patient metadata's vocabulary; `metadata` turns examples into the model's inputs).

Modules: `preprocessing`, `augment` (with its image maths, `image_ops`), `io` (maps);
`ops` (the preprocessing registry); `sampling` (fastai v1's epoch draws); `settings`
(`InputSettings`, the keyword set of `make_dataset` and `make_training_stream`);
`loading` (the TFDS builder and the deterministic per-example part); `stream`
(training epochs held in memory); `pipeline` (`make_dataset` and the documented order);
`metadata` (age, sex and site of an example, for a metadata run).
"""

from skinkeras.data import ops
from skinkeras.data.augment import augment, augment_parameters
from skinkeras.data.io import decode_image
from skinkeras.data.pipeline import (
    DatasetNotPreparedError,
    TrainingStream,
    dataset_info,
    make_dataset,
    make_training_stream,
    metadata_encoding,
    round_pixels,
)
from skinkeras.data.preprocessing import (
    PREPROCESSING_NAMES,
    apply_lesion_mask,
    ben_graham,
    color_constancy,
    max_rgb_illuminant,
    preprocess,
    resize_and_center_crop,
    shades_of_gray_illuminant,
)

__all__ = [
    "PREPROCESSING_NAMES",
    "DatasetNotPreparedError",
    "TrainingStream",
    "apply_lesion_mask",
    "augment",
    "augment_parameters",
    "ben_graham",
    "color_constancy",
    "dataset_info",
    "decode_image",
    "make_dataset",
    "make_training_stream",
    "max_rgb_illuminant",
    "metadata_encoding",
    "ops",
    "preprocess",
    "resize_and_center_crop",
    "round_pixels",
    "shades_of_gray_illuminant",
]
