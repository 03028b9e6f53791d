"""The study's deterministic preprocessing as pure TensorFlow maps.

Every function here is a tensor → tensor map built from TensorFlow ops only (no
``py_function``, no ``.numpy()``, no globals), so it runs inside ``tf.data``, on TPU
and inside an exported SavedModel. Images are RGB with values 0..255, either one image
``(H, W, 3)`` or a batch ``(B, H, W, 3)``; ``uint8`` input is accepted and every map
returns ``float32`` in 0..255. Model-specific input normalisation is *not* done here:
it lives inside the models (see ``skinkeras.models``).

SPEC: Preprocessing — Max-RGB and Shades of Gray colour constancy, Ben Graham's local
average subtraction, and lesion masking (experiment 1).
"""

import math

import tensorflow as tf

from skinkeras.config import MASKED_PREPROCESSING

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
COLOR_CONSTANCY_METHODS = ("max_rgb", "shades_of_gray")
MASK_MODES = ("grayscale", "gray128")


def _as_float_image(image):
    """float32 tensor of rank 3 or 4 with 3 channels (uint8 and other dtypes cast)."""
    image = tf.convert_to_tensor(image)
    if image.dtype != tf.float32:
        image = tf.cast(image, tf.float32)
    if image.shape.rank not in (3, 4):
        raise ValueError(
            "Expected an image (H, W, C) or a batch (B, H, W, C). "
            f"Received: image.shape={image.shape}"
        )
    return image


def _check_p(p):
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not p > 0:
        raise ValueError(f"`p` must be a number > 0. Received: p={p!r}")
    if math.isinf(p):
        raise ValueError(
            f"`p` must be finite (use Max-RGB for p=inf). Received: p={p!r}"
        )


def resize_and_center_crop(image, size=224):
    """Scales the shorter side to `size` (aspect kept), then crops the centre.

    SPEC: "Images are brought to 224×224 by scaling the shorter side to 224 (aspect
    ratio kept), then a center crop". Shrinking uses area averaging (OpenCV's
    INTER_AREA: antialiased, as ISIC photos shrink up to 20×, and 3× faster in TF than
    antialiased bilinear), enlarging uses bilinear; values stay in the input's range.

    Args:
        image: (H, W, C) or (B, H, W, C), any numeric dtype, any C (masks too).
        size: side of the square output, a Python int > 0.

    Returns:
        float32 (size, size, C) or (B, size, size, C) with a static spatial shape.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
        raise ValueError(f"`size` must be a positive int. Received: size={size!r}")
    image = tf.convert_to_tensor(image)
    if image.shape.rank not in (3, 4):
        raise ValueError(
            "Expected an image (H, W, C) or a batch (B, H, W, C). "
            f"Received: image.shape={image.shape}"
        )
    if image.dtype not in (tf.uint8, tf.float32):
        image = tf.cast(image, tf.float32)
    shape = tf.shape(image)
    height, width = shape[-3], shape[-2]
    # Cropping the central square first and scaling it to size × size is the same
    # geometry as scaling then cropping, with fewer output pixels to filter. The
    # crop stays in the input's dtype (uint8 from a decoder: a quarter of the bytes
    # to copy); both resize methods read uint8 and return float32, same numbers.
    side = tf.minimum(height, width)
    square = tf.image.crop_to_bounding_box(
        image, (height - side) // 2, (width - side) // 2, side, side
    )
    cropped = tf.cond(
        side >= size,
        lambda: tf.image.resize(square, [size, size], method="area"),
        lambda: tf.image.resize(square, [size, size], method="bilinear"),
    )
    channels = image.shape[-1]
    if image.shape.rank == 3:
        cropped = tf.ensure_shape(cropped, [size, size, channels])
    else:
        cropped = tf.ensure_shape(cropped, [image.shape[0], size, size, channels])
    return cropped


def _normalize_illuminant(e):
    """Unit-norm illuminant; an all-black image gets the neutral one (no NaN)."""
    norm = tf.norm(e, axis=-1, keepdims=True)
    neutral = tf.fill(tf.shape(e), 1.0 / math.sqrt(3.0))
    return tf.where(norm > 0.0, e / tf.maximum(norm, 1e-12), neutral)


def max_rgb_illuminant(image):
    """Max-RGB illuminant: `e_c = max_x I_c(x)`, normalised to `||e|| = 1`.

    Returns:
        float32 (3,) for one image, (B, 3) for a batch. An all-black image gives the
        neutral illuminant (1, 1, 1) / sqrt(3).
    """
    image = _as_float_image(image)
    return _normalize_illuminant(tf.reduce_max(image, axis=[-3, -2]))


def _power(x, p):
    """x ** p; integer p by repeated squaring (tf.pow's exp/log costs ~5× more)."""
    if float(p).is_integer() and p <= 64:
        result, base, n = None, x, int(p)
        while n:
            if n & 1:
                result = base if result is None else result * base
            n >>= 1
            if n:
                base = base * base
        return result
    return x**p


def shades_of_gray_illuminant(image, p=6):
    """Shades of Gray illuminant: `e_c = (mean_x I_c(x)^p)^(1/p)`, unit norm.

    Each channel is divided by its maximum before the power (and multiplied back
    after the root), so large `p` neither overflows float32 (255^p) nor underflows.

    Args:
        image: (H, W, 3) or (B, H, W, 3), values 0..255.
        p: the Minkowski norm, a number > 0 (6 is the customary default; p=1 is
            Gray World, p → ∞ tends to Max-RGB).

    Returns:
        float32 (3,) or (B, 3).
    """
    _check_p(p)
    image = _as_float_image(image)
    peak = tf.reduce_max(image, axis=[-3, -2], keepdims=True)
    scaled = tf.math.divide_no_nan(image, peak)
    e = tf.reduce_mean(_power(scaled, p), axis=[-3, -2]) ** (1.0 / p)
    return _normalize_illuminant(e * tf.squeeze(peak, axis=[-3, -2]))


def color_constancy(image, method="shades_of_gray", p=6):
    """Corrects the colour cast: `I_c' = I_c / (sqrt(3) * e_c)`, clipped to 0..255.

    SPEC: colour correction with an estimated illuminant; a neutral illuminant
    (1, 1, 1) / sqrt(3) leaves the image unchanged; an all-black image stays black.

    Args:
        image: (H, W, 3) or (B, H, W, 3), values 0..255.
        method: "max_rgb" or "shades_of_gray".
        p: the Shades of Gray norm (ignored by Max-RGB), a number > 0.
    """
    if method not in COLOR_CONSTANCY_METHODS:
        raise ValueError(
            f"`method` must be one of {COLOR_CONSTANCY_METHODS}. Received: method={method!r}"
        )
    _check_p(p)
    image = _as_float_image(image)
    if method == "max_rgb":
        e = max_rgb_illuminant(image)
    else:
        e = shades_of_gray_illuminant(image, p=p)
    e = e[..., tf.newaxis, tf.newaxis, :]  # (…, 1, 1, 3) broadcasts over H, W
    # A channel with e_c = 0 is all zeros; divide_no_nan keeps it 0 instead of NaN.
    corrected = tf.math.divide_no_nan(image, math.sqrt(3.0) * e)
    return tf.clip_by_value(corrected, 0.0, 255.0)


def _reflect101_indices(length, radius):
    """Indices of `range(-radius, length + radius)` folded as OpenCV BORDER_REFLECT_101.

    Works for any radius (also ≥ length, where `tf.pad(mode="REFLECT")` refuses) and
    for dynamic lengths: the reflected sequence is periodic with period 2 (n - 1).
    """
    positions = tf.range(-radius, length + radius)
    period = tf.maximum(2 * (length - 1), 1)
    folded = tf.math.floormod(positions, period)
    return tf.where(folded >= length, period - folded, folded)


def gaussian_kernel_size(sigma):
    """OpenCV's kernel size for `GaussianBlur(ksize=(0, 0))` on 8-bit images.

    `cvRound(sigma * 3 * 2 + 1) | 1` (opencv/modules/imgproc/src/smooth.dispatch.cpp),
    i.e. a radius of about 3 sigma. Accepts a Python float or a scalar tensor.
    """
    if isinstance(sigma, (int, float)):
        return int(round(sigma * 6 + 1)) | 1
    size = tf.cast(tf.round(tf.cast(sigma, tf.float32) * 6.0 + 1.0), tf.int32)
    return tf.bitwise.bitwise_or(size, 1)


def _gaussian_kernel_1d(sigma, size):
    x = tf.cast(tf.range(size) - (size - 1) // 2, tf.float32)
    sigma = tf.cast(sigma, tf.float32)
    kernel = tf.exp(-(x**2) / (2.0 * sigma**2))
    return kernel / tf.reduce_sum(kernel)


def _blur_matrix(length, sigma):
    """(length, length) matrix of a 1-D Gaussian blur with reflect-101 borders.

    Row i holds the kernel taps of output pixel i, each added at the (reflected) input
    position it reads, so `M @ x` is the padded convolution of x.
    """
    size = gaussian_kernel_size(sigma)
    kernel = _gaussian_kernel_1d(sigma, size)
    sources = _reflect101_indices(length, size // 2)  # input index of each padded one
    windows = tf.range(length)[:, tf.newaxis] + tf.range(size)[tf.newaxis, :]
    rows = tf.repeat(tf.range(length), size)
    cols = tf.gather(sources, tf.reshape(windows, [-1]))
    taps = tf.tile(kernel, [length])
    # scatter_nd adds duplicates: taps reflected onto the same pixel accumulate.
    return tf.scatter_nd(tf.stack([rows, cols], axis=1), taps, [length, length])


def gaussian_blur(images, sigma):
    """Separable Gaussian blur of a batch (B, H, W, C) with reflect-101 borders.

    Each 1-D pass (with its border) is a linear map, applied as one matrix product per
    axis: `M_H · I · M_Wᵀ`. Same result as two padded convolutions of
    `gaussian_kernel_size(sigma)` taps, but on CPU the matrix products run ~5× faster
    than TF's depthwise convolution (224 px, sigma 22.4: 135 taps). Meant for images
    after resizing: the matrices are H² and W².
    """
    shape = tf.shape(images)
    rows = _blur_matrix(shape[1], sigma)
    cols = _blur_matrix(shape[2], sigma)
    blurred = tf.einsum("ij,bjwc->biwc", rows, images)
    return tf.einsum("kw,biwc->bikc", cols, blurred)


def ben_graham(image, sigma=None):
    """Ben Graham's local average subtraction: `4 * (I - G_sigma * I) + 128`, clipped.

    SPEC: sigma = image size / 10 (22.4 at 224 px); the OpenCV reference is
    `cv2.addWeighted(I, 4, cv2.GaussianBlur(I, (0, 0), sigma), -4, 128)`, whose kernel
    size rule and BORDER_REFLECT_101 border this follows (in float: OpenCV rounds its
    8-bit blur, and ×4 amplifies that, so the two differ by < 1 on average).

    Args:
        image: (H, W, 3) or (B, H, W, 3), values 0..255.
        sigma: Gaussian sigma in pixels, a number > 0; None = shorter side / 10.
    """
    if sigma is not None and (
        isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not sigma > 0
    ):
        raise ValueError(
            f"`sigma` must be a number > 0 or None. Received: sigma={sigma!r}"
        )
    image = _as_float_image(image)
    batch = image if image.shape.rank == 4 else image[tf.newaxis]
    if sigma is None:
        height, width = batch.shape[1], batch.shape[2]
        if height is not None and width is not None:
            sigma = min(height, width) / 10.0
        else:
            shape = tf.shape(batch)
            sigma = tf.cast(tf.minimum(shape[1], shape[2]), tf.float32) / 10.0
    blurred = gaussian_blur(batch, sigma)
    out = tf.clip_by_value(4.0 * (batch - blurred) + 128.0, 0.0, 255.0)
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
        _check_p(p)
        fn = lambda image: color_constancy(image, method="shades_of_gray", p=p)  # noqa: E731
    elif name == "ben_graham":
        sigma = kwargs.pop("sigma", None)
        ben_graham(
            tf.zeros([1, 1, 3]), sigma=sigma
        )  # validates sigma now, not in tf.data
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
