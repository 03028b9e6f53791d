r"""Writes a grid comparing the study's preprocessings on some images.

One row per image, one column per preprocessing — Original / Max-RGB / Shades of Gray /
Ben Graham, as in the study's figures 3.6 and 3.7 — each image first brought to
`--size` by the pipeline's resize + centre crop, then passed through exactly the maps
`make_dataset` uses (`skinkeras.data.preprocess`).

    python -m experiments.preview --preprocessing=all \
        --images=ISIC_0000000.jpg --images=some/folder --out=grid.png

An image with more than `--max_pixels` pixels or a side under `--min_side` (read from
its header) is skipped with the reason on stderr, never decoded.
"""

import pathlib
import sys

import numpy as np
from absl import flags

from experiments import common_flags, deploy_cli

# One column per name of `skinkeras.data.PREPROCESSING_NAMES` (a test checks that
# they match; importing skinkeras.data for `--help` would import TensorFlow).
TITLES = {
    "none": "Original",
    "max_rgb": "Max-RGB",
    "shades_of_gray": "Shades of Gray",
    "ben_graham": "Ben Graham",
}
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
HEADER = 28  # pixels of the title band above the grid


def define_flags(flag_values=flags.FLAGS):
    """Defines this script's flags (on `flag_values`, so tests can use their own)."""
    flags.DEFINE_list(
        "preprocessing",
        ["all"],
        "Preprocessings to show beside the original: 'all' or a comma-separated list "
        f"of {', '.join(n for n in TITLES if n != 'none')}.",
        flag_values=flag_values,
    )
    flags.DEFINE_multi_string(
        "images",
        None,
        "Image files or folders (JPEG/PNG/BMP/GIF); repeat the flag or separate with "
        "commas. Folders contribute their image files, sorted by name.",
        flag_values=flag_values,
    )
    flags.DEFINE_string(
        "out", "grid.png", "Where to write the PNG grid.", flag_values=flag_values
    )
    flags.DEFINE_integer(
        "size",
        224,
        "Side of each tile (resize + centre crop).",
        flag_values=flag_values,
    )
    flags.DEFINE_float("p", 6.0, "Shades of Gray norm p.", flag_values=flag_values)
    common_flags.define_image_limit_flags(flag_values, module=__name__)
    flags.mark_flag_as_required("images", flag_values=flag_values)


def resolve_names(values):
    """--preprocessing values → the column names, "none" (the original) first."""
    names = [v.strip() for v in values if v.strip()]
    if names == ["all"]:
        names = list(TITLES)
    unknown = [n for n in names if n not in TITLES]
    if unknown or not names:
        raise ValueError(
            f"`--preprocessing` takes 'all' or names from {tuple(TITLES)}. "
            f"Received: preprocessing={values!r}"
        )
    return ["none"] + [n for n in names if n != "none"]


def resolve_images(values):
    """--images values (files, folders, comma lists) → a list of image paths."""
    paths = []
    for value in values:
        for item in str(value).split(","):
            if not item:
                continue
            path = pathlib.Path(item)
            if path.is_dir():
                paths += sorted(
                    p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES
                )
            elif path.is_file():
                paths.append(path)
            else:
                raise ValueError(f"No such image or folder. Received: images={item!r}")
    if not paths:
        raise ValueError(f"No images found. Received: images={values!r}")
    return paths


def _title_band(titles, size):
    import cv2

    band = np.full((HEADER, size * len(titles), 3), 255, np.uint8)
    for i, title in enumerate(titles):
        scale = 0.5 if size >= 160 else 0.35
        (width, _), _ = cv2.getTextSize(title, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        x = i * size + max((size - width) // 2, 2)
        cv2.putText(
            band,
            title,
            (x, HEADER - 9),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            (0, 0, 0),
            1,
            cv2.LINE_AA,
        )
    return band


def make_grid(paths, names, *, size=224, p=6.0, log=None):
    """uint8 RGB grid (HEADER + rows·size, columns·size, 3), one row per image.

    A file that does not decode is skipped with the reason on ``log`` (default:
    standard error), as `experiments.predict` skips it (issue 14).

    Raises:
        ValueError: no file decoded.
    """
    import tensorflow as tf
    from tqdm import tqdm

    from skinkeras.data import decode_image, preprocess, resize_and_center_crop

    maps = [
        preprocess(n, p=p) if n == "shades_of_gray" else preprocess(n) for n in names
    ]
    log = log or (lambda line: print(line, file=sys.stderr))
    rows = []
    for path in tqdm(paths, desc="preview", unit="image", disable=len(paths) < 8):
        try:
            image = decode_image(tf.io.read_file(str(path)), name=str(path))
        except tf.errors.InvalidArgumentError:
            log(f"Skipping {path}: not a readable JPEG/PNG/BMP/GIF image")
            continue
        image = resize_and_center_crop(image, size)
        tiles = [fn(image) for fn in maps]
        rows.append(
            np.concatenate(
                [np.round(t.numpy()).astype(np.uint8) for t in tiles], axis=1
            )
        )
    if not rows:
        raise ValueError(
            "None of the images decodes. "
            f"Received: images={[str(path) for path in paths]!r}"
        )
    return np.concatenate(
        [_title_band([TITLES[n] for n in names], size), *rows], axis=0
    )


def main(argv, flag_values=flags.FLAGS):
    import cv2

    from skinkeras import imagefiles

    del argv  # unused
    names = resolve_names(flag_values.preprocessing)
    paths = imagefiles.within_limits(
        resolve_images(flag_values.images),
        max_pixels=flag_values.max_pixels,
        min_side=flag_values.min_side,
    )
    grid = make_grid(paths, names, size=flag_values.size, p=flag_values.p)
    out = pathlib.Path(flag_values.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR)):
        raise OSError(f"Could not write {out}")
    rows = (grid.shape[0] - HEADER) // flag_values.size
    print(
        f"Wrote {out} ({rows} images × {len(names)} columns, {grid.shape[1]}×{grid.shape[0]} px)",
        file=sys.stderr,
    )


def cli():
    """Console script entry point."""
    define_flags()
    deploy_cli.run(main)


if __name__ == "__main__":
    cli()
