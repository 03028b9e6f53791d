"""The checks of `experiments.evaluate`'s flags, made before anything is loaded."""

from experiments import patient_flags


def check_calibration_split(*, calibrate, split, images):
    """Refuses to calibrate on test data (issue 15: chosen on validation, never test)."""
    if not calibrate:
        return
    if images:
        raise ValueError(
            "--calibrate fits on a validation split, not on --images (test images "
            "would judge their own threshold): use --split=validation. "
            f"Received: images={images}"
        )
    # Every part of a TFDS split expression ("validation+test[:50%]"): `test` and
    # the official `challenge_test` sets are test data, sliced or not.
    names = [part.split("[")[0].strip() for part in split.split("+")]
    if any(name == "test" or name.endswith("_test") for name in names):
        raise ValueError(
            "--calibrate must not see the test split: the operating point chosen on "
            "it would overstate its own metrics. Use --split=validation. "
            f"Received: split={split}"
        )


def check_flags(FLAGS):  # noqa: N803 (the command's FlagValues, as it names them)
    """Refuses a combination of `experiments.evaluate`'s flags before any work."""
    if bool(FLAGS.images) != bool(FLAGS.truth):
        raise ValueError(
            "--images and --truth go together (the folder and its ground truth). "
            f"Received: images={FLAGS.images}, truth={FLAGS.truth}"
        )
    patient_flags.check_images(FLAGS.metadata, FLAGS.images)
    if FLAGS.images and FLAGS["split"].present:
        raise ValueError(
            f"--split reads a TFDS split; --images a folder: give one. "
            f"Received: split={FLAGS.split}, images={FLAGS.images}"
        )
    for name in ("operating_point", "target_sensitivity"):
        if FLAGS[name].present and not FLAGS.calibrate:
            raise ValueError(
                f"--{name} chooses the operating point that --calibrate stores; "
                f"without --calibrate the run's calibration.json is used. "
                f"Received: {name}={FLAGS[name].value}"
            )
    if FLAGS.target_sensitivity <= 0:
        raise ValueError(
            "--target_sensitivity must be in (0, 1]. "
            f"Received: target_sensitivity={FLAGS.target_sensitivity}"
        )
    check_calibration_split(
        calibrate=FLAGS.calibrate, split=FLAGS.split, images=FLAGS.images
    )
