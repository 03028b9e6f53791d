"""Images take exactly the training path; test-time augmentation by symmetries.

The transforms reuse `skinkeras.data`: `decode_image` → `resize_and_center_crop`
→ `preprocess(preprocessing)` → `round_pixels` (training's uint8 cache), with both
settings from the run's `config.json`. The models take RGB float pixels in 0..255
and normalise inside, so nothing else happens before the model. All pure TF, for
`tf.data` or a SavedModel.

Test-time augmentation (`tta=N`) averages the probabilities over the first `N` of
the 8 symmetries of the square (`TTA_TRANSFORMS`), ordered so that N = 1, 2, 4 and 8
are subgroups: identity; + horizontal flip; + vertical flip and 180° rotation;
+ the 90° rotations and the two transposes.
"""

import tensorflow as tf

from skinkeras import data

# Dihedral group D4 as maps on a batch (B, H, W, C), in `tta` order (see module doc).
TTA_TRANSFORMS = (
    ("identity", lambda x: x),
    ("flip_left_right", lambda x: tf.reverse(x, axis=[2])),
    ("flip_up_down", lambda x: tf.reverse(x, axis=[1])),
    ("rot180", lambda x: tf.reverse(x, axis=[1, 2])),
    ("rot90", lambda x: tf.image.rot90(x, k=1)),
    ("rot270", lambda x: tf.image.rot90(x, k=3)),
    ("transpose", lambda x: tf.transpose(x, [0, 2, 1, 3])),
    ("antitranspose", lambda x: tf.reverse(tf.transpose(x, [0, 2, 1, 3]), [1, 2])),
)

# The model was trained on the uint8 cache's values: inference rounds the same way.
round_like_training = data.round_pixels


def _file_preprocess(preprocessing):
    # An op that reads more of the example than its image (lesion_mask: the mask).
    if data.ops.spec(preprocessing).needs:
        raise ValueError(
            "A run trained on lesion-masked images needs each image's lesion mask, "
            "which image files do not come with: predict/export support the other "
            "preprocessings (evaluate works, with the run's `masks_dir`). "
            f"Received: preprocessing={preprocessing!r}"
        )
    return data.preprocess(preprocessing)


def image_transform(*, image_size, preprocessing):
    """The training path from a decoded image: pure TF, for `tf.data` or a SavedModel.

    Returns:
        `fn(image)`: uint8/float (H, W, 3), any size → float32 (S, S, 3) in 0..255,
        resized and centre-cropped like training, then preprocessed.
    """
    preprocess = _file_preprocess(preprocessing)

    def transform(image):
        return data.round_pixels(
            preprocess(data.resize_and_center_crop(image, size=image_size))
        )

    return transform


def bytes_transform(*, image_size, preprocessing):
    """`fn(encoded)`: JPEG/PNG/BMP/GIF bytes (scalar string) → `(resized, input)`.

    `resized` is the decoded image after `resize_and_center_crop` (natural colours,
    for overlays); `input` is `resized` after the run's preprocessing — the model
    input. Pure TF.
    """
    preprocess = _file_preprocess(preprocessing)

    def transform(encoded, name="<image>"):
        resized = data.resize_and_center_crop(
            data.decode_image(encoded, name=name), size=image_size
        )
        return resized, data.round_pixels(preprocess(resized))

    return transform


def tta_batch(images, tta):
    """The first `tta` symmetries of the square applied to `images` (B, H, W, C).

    Returns:
        A list of `tta` tensors shaped like `images` (square images keep their shape).
    """
    if not 1 <= tta <= len(TTA_TRANSFORMS):
        raise ValueError(
            f"`tta` must be in 1..{len(TTA_TRANSFORMS)}. Received: tta={tta}"
        )
    return [transform(images) for _, transform in TTA_TRANSFORMS[:tta]]
