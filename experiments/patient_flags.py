"""`--metadata=CSV` of `experiments.predict` and `experiments.evaluate` (issue 26).

A run trained with patient metadata (`experiments.main --metadata`) takes each
image's age, sex and anatomic site beside it. For image files they come from the
challenge's metadata CSV (`skinkeras.inference.patient.read_csv`: every challenge's
column names; unknowns allowed and counted). One flag, one reading and one set of
refusals for both commands.
"""

from absl import flags

from experiments.common_flags import module_key

HELP = (
    "Patient metadata CSV of the images, for a run trained with --metadata (needed "
    "then; refused for an image-only run): the challenge's metadata file, its image "
    "id column `image_id`, `image` or `image_name`, age `age_approximate`, "
    "`age_approx` or `age`, sex `sex`, site `anatom_site_general`, "
    "`anatom_site_general_challenge` or `localization` (ISIC 2017, 2019, 2020, "
    "HAM10000). An image without a row, a missing column, an empty or 'unknown' "
    "value and a sex or site the run did not train on are unknown to the model; "
    "the command prints how many."
)


def define_metadata_flag(flag_values, *, module, extra_help=""):
    """Defines `--metadata` in a command's `flag_values`."""
    flags.DEFINE_string(
        "metadata",
        None,
        HELP + extra_help,
        flag_values=flag_values,
        module_name=module_key(module),
    )


def read_metadata(run, path):
    """The `PatientMetadata` of `--metadata=path` for `run`, or None for an
    image-only run without the flag.

    Raises:
        ValueError: a metadata run without the flag, the flag for an image-only
            run, or a CSV that cannot be read (`patient.read_csv`'s errors).
        FileNotFoundError: no file at `path`.
    """
    from skinkeras.inference import patient

    if run.metadata_encoding is None:
        if path:
            raise ValueError(
                f"--metadata gives a model trained with patient metadata its inputs; "
                f"{run.model_dir} was trained on images only (drop --metadata). "
                f"Received: metadata={path}"
            )
        return None
    if not path:
        raise ValueError(
            f"{run.model_dir} was trained with patient metadata (--metadata): give "
            "--metadata=CSV, the images' metadata CSV (age, sex, anatomic site; "
            "`--help` names the columns read). Received: metadata=None"
        )
    return patient.read_csv(path, run.metadata_encoding)


def check_images(path, images):
    """`experiments.evaluate`: --metadata goes with --images."""
    if path and not images:
        raise ValueError(
            "--metadata is the metadata CSV of --images; a split's examples hold "
            f"their own. Received: metadata={path}"
        )


def for_images(run, path, images, *, optional=False):
    """`experiments.evaluate`: `read_metadata` for --images (None for a split, and
    with `optional` for an image-only run, which then ignores the flag)."""
    if not images or (optional and run.metadata_encoding is None):
        return None
    return read_metadata(run, path)
