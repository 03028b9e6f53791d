"""The study's deterministic preprocessing as tf.data maps.

Every function here is a tensor → tensor map (no ``py_function``, no ``.numpy()``, no
globals), so it runs inside ``tf.data``, on TPU and inside an exported SavedModel.
Images are RGB with values 0..255, either one image ``(H, W, 3)`` or a batch
``(B, H, W, 3)``; ``uint8`` input is accepted and every map returns ``float32`` in
0..255. Model-specific input normalisation is *not* done here: it lives inside the
models (see ``skinkeras.models``).

One implementation per preprocessing: resize + centre crop, Max-RGB, Shades of Gray
and Ben Graham are computed by the `keras.ops` functions of the layers that the
exported model uses (`skinkeras.layers.resize_crop`, `.color_constancy`,
`.ben_graham`); these maps check their input and call them on TensorFlow tensors,
which on the TensorFlow backend makes them TensorFlow ops. On another Keras backend
they raise a `RuntimeError` (see `_check_backend`). Lesion masking, which an exported
model never runs (it needs the mask), is TensorFlow here.

SPEC: Preprocessing — Max-RGB and Shades of Gray colour constancy, Ben Graham's local
average subtraction, and lesion masking (experiment 1).
"""

import keras
import tensorflow as tf

from skinkeras.config import MASKED_PREPROCESSING
from skinkeras.layers import ben_graham as graham
from skinkeras.layers import color_constancy as constancy
from skinkeras.layers import resize_crop

__all__ = [
    "PREPROCESSING_NAMES",
    "apply_lesion_mask",
    "ben_graham",
    "color_constancy",
    "max_rgb_illuminant",
    "preprocess",
    "resize_and_center_crop",
    "shades_of_gray_illuminant",
]

# Names accepted by `preprocess`: the image → image maps. Each is also an example op
# of `skinkeras.data.ops`, whose registry (these and "lesion_mask", which reads the
# example's mask too) gives the `--preprocessing` choices.
PREPROCESSING_NAMES = ("none", "max_rgb", "shades_of_gray", "ben_graham")
MASK_MODES = ("grayscale", "gray128")


def _check_backend():
    # Resize, colour constancy and Ben Graham run the layers' `keras.ops` code on
    # tf.data's TensorFlow tensors, which only the TensorFlow backend turns into
    # TensorFlow ops. Every map checks, so a pipeline fails at once with this
    # message, not deep inside Keras. (Keras' own preprocessing layers switch to
    # TensorFlow inside tf.data through `keras.src` internals: private, renamed
    # between Keras 3 releases, and needing code written against the backend
    # modules instead of `keras.ops`.)
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise RuntimeError(
            "skinkeras.data's preprocessing maps run inside tf.data on the "
            "TensorFlow backend (KERAS_BACKEND=tensorflow, the default); on other "
            "backends use the `skinkeras.layers` preprocessing layers. "
            f"Received: keras.backend.backend()={backend!r}"
        )


def _image(image):
    """A tensor of rank 3 or 4 (the maps take one image or a batch)."""
    _check_backend()
    image = tf.convert_to_tensor(image)
    if image.shape.rank not in (3, 4):
        raise ValueError(
            "Expected an image (H, W, C) or a batch (B, H, W, C). "
            f"Received: image.shape={image.shape}"
        )
    return image


def _as_float_image(image):
    """float32 tensor of rank 3 or 4 (uint8 and other dtypes cast)."""
    return tf.cast(_image(image), tf.float32)


def resize_and_center_crop(image, size=224):
    """Scales the shorter side to `size` (aspect kept), then crops the centre.

    SPEC: "Images are brought to 224×224 by scaling the shorter side to 224 (aspect
    ratio kept), then a center crop". `skinkeras.layers.resize_crop`'s code: area
    averaging when shrinking (OpenCV's INTER_AREA), bilinear when enlarging; values
    stay in the input's range.

    Args:
        image: (H, W, C) or (B, H, W, C), any numeric dtype, any C (masks too).
        size: side of the square output, a Python int > 0.

    Returns:
        float32 (size, size, C) or (B, size, size, C) with a static spatial shape.
    """
    resize_crop.check_size(size)
    image = _image(image)
    if image.dtype not in (tf.uint8, tf.float32):
        image = tf.cast(image, tf.float32)
    return resize_crop.resize_and_center_crop(image, size)


def max_rgb_illuminant(image):
    """Max-RGB illuminant: `e_c = max_x I_c(x)`, normalised to `||e|| = 1`.

    Returns:
        float32 (3,) for one image, (B, 3) for a batch. An all-black image gives the
        neutral illuminant (1, 1, 1) / sqrt(3).
    """
    return constancy.max_rgb_illuminant(_as_float_image(image))


def shades_of_gray_illuminant(image, p=6):
    """Shades of Gray illuminant: `e_c = (mean_x I_c(x)^p)^(1/p)`, unit norm.

    Args:
        image: (H, W, 3) or (B, H, W, 3), values 0..255.
        p: the Minkowski norm, a finite number > 0 (6 is the customary default;
            p=1 is Gray World, p → ∞ tends to Max-RGB).

    Returns:
        float32 (3,) or (B, 3).
    """
    constancy.check_p(p)
    return constancy.shades_of_gray_illuminant(_as_float_image(image), p=p)


def color_constancy(image, method="shades_of_gray", p=6):
    """Corrects the colour cast: `I_c' = I_c / (sqrt(3) * e_c)`, clipped to 0..255.

    SPEC: colour correction with an estimated illuminant; a neutral illuminant
    (1, 1, 1) / sqrt(3) leaves the image unchanged; an all-black image stays black.

    Args:
        image: (H, W, 3) or (B, H, W, 3), values 0..255.
        method: "max_rgb" or "shades_of_gray".
        p: the Shades of Gray norm (ignored by Max-RGB), a finite number > 0.
    """
    return constancy.color_constancy(_as_float_image(image), method, p)


def ben_graham(image, sigma=None):
    """Ben Graham's local average subtraction: `4 * (I - G_sigma * I) + 128`, clipped.

    SPEC: sigma = image size / 10 (22.4 at 224 px), OpenCV's kernel size and
    BORDER_REFLECT_101 border (`skinkeras.layers.ben_graham`'s code, which H and W
    unknown until run time do not trouble inside tf.data).

    Args:
        image: (H, W, 3) or (B, H, W, 3), values 0..255.
        sigma: Gaussian sigma in pixels, a number > 0; None = shorter side / 10.
    """
    graham.check_sigma(sigma)
    image = _as_float_image(image)
    batch = image if image.shape.rank == 4 else image[tf.newaxis]
    out = graham.ben_graham(batch, sigma=sigma)
    return out if image.shape.rank == 4 else out[0]


def to_grayscale(image):
    """ITU-R BT.601 luma (as `tf.image.rgb_to_grayscale`), repeated on 3 channels."""
    weights = tf.constant([0.2989, 0.5870, 0.1140], tf.float32)
    luma = tf.reduce_sum(image * weights, axis=-1, keepdims=True)
    return tf.repeat(luma, 3, axis=-1)


def apply_lesion_mask(image, mask, mode="grayscale"):
    """Keeps colour inside the lesion; the outside becomes grayscale or solid gray.

    SPEC: lesion masking (experiment 1). `out = m * I + (1 - m) * outside`, with
    `outside` the image's luma ("grayscale") or (128, 128, 128) ("gray128"). A soft
    mask (after resizing) blends the boundary instead of leaving jagged steps.

    Args:
        image: (H, W, 3) or (B, H, W, 3), values 0..255.
        mask: same spatial shape as `image`, with or without a trailing channel of 1;
            lesion = 1 (values 0/1) or 255 (values 0/255, uint8 as written by
            `experiments.make_masks`). Integer masks are read as 0/1 if their maximum is
            ≤ 1, else divided by 255; float masks are taken as 0..1 weights.
        mode: "grayscale" or "gray128".
    """
    if mode not in MASK_MODES:
        raise ValueError(f"`mode` must be one of {MASK_MODES}. Received: mode={mode!r}")
    image = _as_float_image(image)
    mask = tf.convert_to_tensor(mask)
    if mask.shape.rank == image.shape.rank - 1:
        mask = mask[..., tf.newaxis]
    if mask.dtype.is_integer or mask.dtype == tf.bool:
        mask = tf.cast(mask, tf.float32)
        mask = tf.where(tf.reduce_max(mask) > 1.0, mask / 255.0, mask)
    else:
        mask = tf.cast(mask, tf.float32)
    mask = tf.clip_by_value(mask, 0.0, 1.0)
    if mode == "grayscale":
        outside = to_grayscale(image)
    else:
        outside = tf.fill(tf.shape(image), 128.0)
    return mask * image + (1.0 - mask) * outside


def _identity(image):
    return _as_float_image(image)


def preprocess(name, **kwargs):
    """The deterministic map for a preprocessing name (image → float32 image).

    Args:
        name: one of "none", "max_rgb", "shades_of_gray", "ben_graham" (the values
            `experiments.main --preprocessing` takes that need only the image). Ops
            that read more of the example (its mask) are `skinkeras.data.ops`'.
        **kwargs: bound to the map: `p` for "shades_of_gray", `sigma` for "ben_graham".

    Returns:
        A callable image → image usable in `tf.data.Dataset.map`.
    """
    if name == "none":
        fn = _identity
    elif name == "max_rgb":
        fn = lambda image: color_constancy(image, method="max_rgb")  # noqa: E731
    elif name == "shades_of_gray":
        p = kwargs.pop("p", 6)
        constancy.check_p(p)
        fn = lambda image: color_constancy(image, method="shades_of_gray", p=p)  # noqa: E731
    elif name == "ben_graham":
        sigma = kwargs.pop("sigma", None)
        graham.check_sigma(sigma)  # now, not inside tf.data
        fn = lambda image: ben_graham(image, sigma=sigma)  # noqa: E731
    else:
        if name in MASKED_PREPROCESSING:  # an op that reads the example's mask too
            raise ValueError(
                f"Preprocessing {name!r} reads the example's mask too, not only the "
                f"image: use `make_dataset(..., preprocessing={name!r})` or "
                f"`skinkeras.data.ops.get({name!r})` on an example dict. "
                f"Received: name={name!r}"
            )
        raise ValueError(
            f"Unknown preprocessing; expected one of {PREPROCESSING_NAMES}. "
            f"Received: name={name!r}"
        )
    if kwargs:
        raise ValueError(
            f"Unexpected arguments for {name!r}. Received: kwargs={kwargs}"
        )
    return fn
