"""Image files' dimensions read from their headers, and the limits checked with them.

Issue 14: a 0.75 MB PNG of 16000 x 16000 pixels decodes to 768 MB, and 1 x 1 or
2 x 80 images were predicted without a word. `size_problem` reads the width and
height from the file's header (nothing is decoded) so that such files are skipped,
with the reason, before TensorFlow decodes them (`skinkeras.inference.predict_files`,
`experiments.preview`).

No TensorFlow here: the commands take their flags' defaults from this module.
"""

import pathlib
import sys

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_MIN_SIDE",
    "image_size",
    "size_problem",
    "within_limits",
]

# 10000 x 10000: over three times the largest official ISIC images (~6700 x 4500,
# 30 MP). Decoding one such image takes 300 MB as uint8 RGB.
DEFAULT_MAX_PIXELS = 100_000_000
# The backbones reduce their input 32 times (five stride-2 stages): a side under 32
# pixels is less than one cell of their last feature map before it is upscaled, so
# it holds no lesion detail. ISIC's smallest images have sides of several hundred.
DEFAULT_MIN_SIDE = 32


def _pillow_classes():
    """{file signature: Pillow's image class}, for the formats TensorFlow decodes
    (the signatures of `skinkeras.data.io`)."""
    from PIL import BmpImagePlugin, GifImagePlugin, JpegImagePlugin, PngImagePlugin

    return {
        b"\xff\xd8\xff": JpegImagePlugin.JpegImageFile,
        b"\x89PNG\r\n\x1a\n": PngImagePlugin.PngImageFile,
        b"GIF87a": GifImagePlugin.GifImageFile,
        b"GIF89a": GifImagePlugin.GifImageFile,
        b"BM": BmpImagePlugin.BmpImageFile,
    }


def image_size(path):
    """(height, width) from the header of a JPEG, PNG, GIF or BMP file, else None.

    Only the header is read. Pillow's image classes are used directly rather than
    `PIL.Image.open`, which refuses images over its own global pixel limit
    (`PIL.Image.MAX_IMAGE_PIXELS`, decompression-bomb protection) before telling
    their size. None also for a file whose header is unreadable (truncated, not an
    image): decoding then fails with TensorFlow's own message.

    Raises:
        OSError: the file cannot be opened.
    """
    with open(path, "rb") as file:
        head = file.read(8)
        classes = _pillow_classes()
        image_class = next((classes[s] for s in classes if head.startswith(s)), None)
        if image_class is None:
            return None
        file.seek(0)
        try:
            with image_class(file) as image:
                width, height = image.size
        except (SyntaxError, OSError, ValueError):  # Pillow: a bad header
            return None
    return height, width


def size_problem(path, *, max_pixels=DEFAULT_MAX_PIXELS, min_side=DEFAULT_MIN_SIDE):
    """Why the image file at `path` should not be decoded, or None when it may be.

    Args:
        path: an image file.
        max_pixels: more pixels (height x width) than this are refused.
        min_side: a height or width under this is refused.

    Returns:
        A one-line reason naming the image's size and the limit it breaks
        (`max_pixels=...` / `min_side=...`), or None: within the limits, or a size
        the header does not tell (see `image_size`).
    """
    size = image_size(pathlib.Path(path))
    if size is None:
        return None
    height, width = size
    if height * width > max_pixels:
        return (
            f"{width}x{height} = {height * width} pixels, more than "
            f"max_pixels={max_pixels}"
        )
    if min(height, width) < min_side:
        return f"{width}x{height} pixels, a side under min_side={min_side}"
    return None


def within_limits(paths, *, max_pixels, min_side, log=None):
    """The paths whose size is within the limits (`size_problem`), in order.

    The others are reported with the reason, one line each, to ``log`` (default:
    standard error), so the commands that read image files (`experiments.preview`,
    `experiments.gradcam`) skip them visibly.

    Raises:
        ValueError: no path is within the limits.
    """
    log = log or (lambda line: print(line, file=sys.stderr))
    kept = []
    for path in paths:
        problem = size_problem(path, max_pixels=max_pixels, min_side=min_side)
        if problem:
            log(f"Skipping {path}: {problem}")
        else:
            kept.append(path)
    if not kept:
        raise ValueError(
            "No image within --max_pixels / --min_side. "
            f"Received: images={[str(p) for p in paths]!r}"
        )
    return kept
