"""Augmentation: fastai v1's get_transforms maths in numpy, distributions, seeds."""

import numpy as np
import pytest
import scipy.ndimage
import tensorflow as tf

from skinkeras.data import augment, augment_parameters
from skinkeras.data.image_ops import adjust_lighting, resample
from tests.data.images import in_dataset_map, random_image, structured_image

SEED = tf.constant([1, 2], tf.int64)
QUANTILES = np.array([0.1, 0.25, 0.5, 0.75, 0.9])
# Tests share shapes and steps where they can: XLA compiles once per combination.
BATCH = np.stack([random_image(20, 24, seed=s) for s in range(8)])  # uint8
ALL_STEPS = {"lighting": True, "warp": True, "flip": True, "p_lighting": 0.5}


# --- An independent numpy transcription of fastai v1 (vision/transform.py, image.py).


def fastai_symmetric_warp(m):
    """`_symmetric_warp` + `_find_coeffs(_orig_pts, targ_pts)`: a 3x3 homography."""
    orig = [[-1, -1], [-1, 1], [1, -1], [1, 1]]
    targ = [
        [-1 - m[3], -1 - m[1]],
        [-1 - m[2], 1 + m[1]],
        [1 + m[3], -1 - m[0]],
        [1 + m[2], 1 + m[0]],
    ]
    rows = []
    for p1, p2 in zip(targ, orig, strict=True):
        rows.append([p1[0], p1[1], 1, 0, 0, 0, -p2[0] * p1[0], -p2[0] * p1[1]])
        rows.append([0, 0, 0, p1[0], p1[1], 1, -p2[1] * p1[0], -p2[1] * p1[1]])
    coeffs = np.linalg.solve(np.array(rows), np.array(orig, np.float64).reshape(8))
    return np.append(coeffs, 1.0).reshape(3, 3)


def fastai_grid(height, width, angle, scale, offset, warp):
    """The sampling grid (x, y) in [-1, 1] after `symmetric_warp`, `rotate`, `zoom`."""
    xs, ys = np.linspace(-1, 1, width), np.linspace(-1, 1, height)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)  # _affine_grid
    if warp is not None:  # _apply_perspective
        q = np.concatenate([grid, np.ones((len(grid), 1))], 1) @ (
            fastai_symmetric_warp(warp).T
        )
        grid = q[:, :2] / q[:, 2:]
    cos, sin = np.cos(angle), np.sin(angle)
    rotate = np.array([[cos, -sin, 0], [sin, cos, 0], [0, 0, 1.0]])  # _rotate
    zoom = np.array(  # _zoom via _get_zoom_mat
        [[1 / scale, 0, offset[0]], [0, 1 / scale, offset[1]], [0, 0, 1.0]]
    )
    m = np.eye(3) @ rotate @ zoom  # Image.affine, in list order
    m[0, 1] *= height / width  # _affine_mult
    m[1, 0] *= width / height
    return (grid @ m[:2, :2].T + m[:2, 2]).reshape(height, width, 2)


def torch_reflect(coord, size):
    """ATen's reflect_coordinates(coord, 0, 2 (size - 1)), then clip_coordinates."""
    span = size - 1.0
    coord = np.abs(coord)
    flips = np.floor(coord / span)
    extra = np.fmod(coord, span)
    return np.clip(np.where(flips % 2 == 0, extra, span - extra), 0, size - 1)


def grid_sample(image, grid):
    """`F.grid_sample(mode="bilinear", padding_mode="reflection", align_corners=True)`."""
    h, w = image.shape[:2]
    x = torch_reflect((grid[..., 0] + 1) / 2 * (w - 1), w)
    y = torch_reflect((grid[..., 1] + 1) / 2 * (h - 1), h)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    wx, wy = (x - x0)[..., None], (y - y0)[..., None]
    # A neighbour past the border only occurs with weight 0.
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    return (
        image[y0, x0] * (1 - wx) * (1 - wy)
        + image[y0, x1] * wx * (1 - wy)
        + image[y1, x0] * (1 - wx) * wy
        + image[y1, x1] * wx * wy
    )


def fastai_lighting(image, change, scale):
    """`brightness` then `contrast` on fastai's float32 `logit_` (clamped to 1e-7)."""
    px = np.clip(
        (image / 255.0).astype(np.float32), np.float32(1e-7), np.float32(1 - 1e-7)
    ).astype(np.float64)
    logit = np.log(px / (1 - px)) + np.log(change / (1 - change))
    return 255.0 / (1.0 + np.exp(-logit * scale))


def fastai_pipeline(image, p):
    """One image through get_transforms' order: warp, rotate, zoom; lighting; flip."""
    h, w = image.shape[:2]
    warp = p["warps"] if np.any(p["warps"] != 0) else None
    out = grid_sample(
        image.astype(np.float64),
        fastai_grid(h, w, p["angles"], p["scales"], p["offsets"], warp),
    )
    if p["changes"] != 0.5 or p["contrasts"] != 1:
        out = fastai_lighting(out, p["changes"], p["contrasts"])
    return out[:, ::-1] if p["flips"] else out


# --- Geometry and lighting for given parameters.


def test_reference_sampler_is_scipy_mirror_bilinear():
    # The reference's torch border rule is scipy's "mirror" (d c b | a b c d | c b a).
    image = random_image(9, 13, seed=4)[..., 0].astype(np.float64)
    rng = np.random.default_rng(0)
    grid = rng.uniform(-3.5, 3.5, (40, 2))
    x = (grid[:, 0] + 1) / 2 * 12
    y = (grid[:, 1] + 1) / 2 * 8
    expected = scipy.ndimage.map_coordinates(image, [y, x], order=1, mode="mirror")
    np.testing.assert_allclose(
        grid_sample(image[..., None], grid)[..., 0], expected, atol=1e-9
    )


def test_resample_matches_fastai_grid_sample():
    # Non-square, so _affine_mult's aspect factors count; several reflections deep.
    height, width = 21, 28
    images = np.stack([random_image(height, width, seed=s) for s in range(5)])
    images = images.astype(np.float32)
    angles = np.array([0.7, -2.5, 0.0, np.pi / 3, 3.0])
    scales = np.array([1.25, 1.1, 1.0, 1.3, 1.05])
    offsets = np.array([[0.1, -0.15], [-0.05, 0.08], [0, 0], [0.2, 0.2], [0, -0.04]])
    warps = np.array(
        [
            [0, 0, 0, 0],
            [0.1, -0.15, 0.05, 0.18],
            [0.2, 0.1, -0.2, 0.05],
            [0, 0, 0, 0],
            [-0.19, 0.02, 0.12, -0.08],
        ]
    )
    f32 = np.float32
    out = resample(
        images,
        angles=angles.astype(f32),
        scales=scales.astype(f32),
        offsets=offsets.astype(f32),
        warps=warps.astype(f32),
    ).numpy()
    for i in range(5):
        grid = fastai_grid(height, width, angles[i], scales[i], offsets[i], warps[i])
        expected = grid_sample(images[i].astype(np.float64), grid)
        np.testing.assert_allclose(out[i], expected, atol=5e-3, err_msg=f"image {i}")
    # The same without warps is the same as zero warps.
    no_warp = resample(
        images[:1],
        angles=angles[:1].astype(f32),
        scales=scales[:1].astype(f32),
        offsets=offsets[:1].astype(f32),
    )
    np.testing.assert_array_equal(no_warp[0], out[0])


def test_zoom_focus_is_rotated_with_the_image():
    # fastai multiplies R @ Z: the sample for the centre is R c, not c.
    image = structured_image(31, 31).astype(np.float32)
    angle, offset = np.pi / 2, [0.4, 0.0]
    out = resample(
        image[None], angles=[angle], scales=[1.25], offsets=[offset]
    ).numpy()[0]
    # R(90°) (0.4, 0) = (0, 0.4): the centre shows the input 0.4 * 15 px below it.
    np.testing.assert_allclose(out[15, 15], image[21, 15], atol=1e-3)


def test_geometry_matches_numpy_rot90_and_flips():
    image = random_image(31, 31, seed=3).astype(np.float32)

    def turn(angle):
        return resample(image[None], angles=[angle], scales=[1.0], offsets=[[0, 0]])

    # A quarter turn is numpy's rot90 (counter-clockwise as displayed, k=1).
    np.testing.assert_allclose(turn(np.pi / 2)[0], np.rot90(image), atol=1e-2)
    np.testing.assert_allclose(turn(np.pi)[0], image[::-1, ::-1], atol=1e-2)


def test_identity_parameters_return_the_input_exactly():
    image = structured_image(33, 40).astype(np.float32)[None]
    out = resample(
        image, angles=[0.0], scales=[1.0], offsets=[[0.0, 0.0]], warps=[[0.0] * 4]
    )
    np.testing.assert_array_equal(out, image)
    out = adjust_lighting(image, changes=[0.5], contrasts=[1.0])
    np.testing.assert_array_equal(out, image)


def test_lighting_matches_fastai_logit_formula():
    image = structured_image(16, 16).astype(np.float32)
    image[0, :4] = [[0, 0, 0], [255, 255, 255], [1, 254, 128], [0, 255, 0]]
    changes = np.array([0.42, 0.5, 0.58, 0.5, 0.5])
    contrasts = np.array([1.2, 0.85, 1.0, 0.5, 1.0])
    out = adjust_lighting(
        np.stack([image] * 5),
        changes=changes.astype(np.float32),
        contrasts=contrasts.astype(np.float32),
    ).numpy()
    for i in range(4):
        expected = fastai_lighting(image, changes[i], contrasts[i])
        np.testing.assert_allclose(out[i], expected, rtol=1e-5, atol=1e-3)
    np.testing.assert_array_equal(out[4], image)  # both coins skipped


def test_augment_matches_numpy_fastai_pipeline():
    # Every step and coin together, in get_transforms' order, from the drawn parameters.
    out = augment(BATCH, SEED, dtype="float32", **ALL_STEPS).numpy()
    params = augment_parameters(len(BATCH), SEED, **ALL_STEPS)
    params = {k: v.numpy() for k, v in params.items()}
    skipped = {
        "rotation": params["angles"] == 0,
        "warp": np.all(params["warps"] == 0, axis=1),
        "lighting": (params["changes"] == 0.5) & (params["contrasts"] == 1),
        "flip": ~params["flips"],
    }
    assert all(0 < s.sum() < len(BATCH) for s in skipped.values())
    for i, image in enumerate(BATCH):
        expected = fastai_pipeline(image, {k: v[i] for k, v in params.items()})
        np.testing.assert_allclose(out[i], expected, atol=5e-3, err_msg=f"image {i}")


# --- Parameter distributions: get_transforms(max_rotate=180, max_zoom=1.3, ...).


def uniform_quantiles(values, low, high, atol):
    np.testing.assert_allclose(
        np.quantile(values, QUANTILES), low + (high - low) * QUANTILES, atol=atol
    )


def test_parameter_distributions_follow_get_transforms():
    n = 20_000
    p = augment_parameters(n, SEED, lighting=True, flip=True, warp=True)
    p = {k: v.numpy() for k, v in p.items()}
    rotated, zoomed = p["angles"] != 0, p["scales"] != 1
    warped = np.any(p["warps"] != 0, axis=1)
    brightened, contrasted = p["changes"] != 0.5, p["contrasts"] != 1
    for applied in (rotated, zoomed, warped, brightened, contrasted):
        assert abs(applied.mean() - 0.75) < 0.015
    # Independent coins.
    for a, b in ((rotated, zoomed), (rotated, warped), (brightened, contrasted)):
        assert abs((a & b).mean() - 0.5625) < 0.015
    assert abs(p["flips"].mean() - 0.5) < 0.015
    assert np.all(p["offsets"][~zoomed] == 0) and np.all(p["offsets"][zoomed] != 0)

    angles = p["angles"][rotated]  # uniform on ±180°
    assert -np.pi <= angles.min() < -np.pi + 0.01
    assert np.pi - 0.01 < angles.max() <= np.pi
    uniform_quantiles(angles, -np.pi, np.pi, atol=0.1)
    scales = p["scales"][zoomed]  # rand_zoom(scale=(1, 1.3))
    assert 1 <= scales.min() < 1.001 and 1.299 < scales.max() <= 1.3
    uniform_quantiles(scales, 1.0, 1.3, atol=0.006)
    # rand_pos: the focus col_pct, row_pct ~ U(0, 1).
    wide = zoomed & (p["scales"] > 1.02)
    pct = (p["offsets"][wide] / (1 - 1 / p["scales"][wide, None]) + 1) / 2
    assert pct.min() >= -1e-4 and pct.max() <= 1 + 1e-4
    for axis in range(2):
        uniform_quantiles(pct[:, axis], 0.0, 1.0, atol=0.02)
    changes = p["changes"][brightened]  # brightness change (0.4, 0.6)
    assert 0.4 <= changes.min() < 0.401 and 0.599 < changes.max() <= 0.6
    uniform_quantiles(changes, 0.4, 0.6, atol=0.004)
    log_contrast = np.log(p["contrasts"][contrasted])  # log-uniform (0.8, 1/0.8)
    bound = -np.log(0.8)
    assert -bound - 1e-6 <= log_contrast.min() < -bound + 0.002
    assert bound - 0.002 < log_contrast.max() <= bound + 1e-6
    uniform_quantiles(log_contrast, -bound, bound, atol=0.009)
    magnitudes = p["warps"][warped].ravel()  # symmetric_warp magnitude (-0.2, 0.2)
    assert -0.2 <= magnitudes.min() < -0.199 and 0.199 < magnitudes.max() <= 0.2
    uniform_quantiles(magnitudes, -0.2, 0.2, atol=0.004)


def test_parameter_options_and_defaults():
    n = 20_000
    p = {k: v.numpy() for k, v in augment_parameters(n, SEED).items()}
    assert abs((p["angles"] != 0).mean() - 0.75) < 0.015
    assert abs((p["scales"] != 1).mean() - 0.75) < 0.015
    assert not p["flips"].any() and np.all(p["warps"] == 0)
    assert np.all(p["changes"] == 0.5) and np.all(p["contrasts"] == 1)
    # Switching lighting on leaves the geometry's draws as they were.
    lit = augment_parameters(n, SEED, lighting=0.1)
    np.testing.assert_array_equal(lit["angles"], p["angles"])
    assert 0.45 <= lit["changes"].numpy().min() < 0.451
    # Other probabilities and a smaller angle.
    p = augment_parameters(n, SEED, rotation=90, zoom=0, p_affine=0.3)
    angles = p["angles"].numpy()
    assert abs((angles != 0).mean() - 0.3) < 0.015
    assert np.pi / 2 - 0.01 < np.abs(angles).max() <= np.pi / 2
    assert np.all(p["scales"].numpy() == 1) and np.all(p["offsets"].numpy() == 0)
    p = augment_parameters(n, SEED, lighting=True, p_lighting=1.0)
    assert np.all(p["changes"].numpy() != 0.5) and np.all(p["contrasts"].numpy() != 1)


# --- augment end to end.


def test_probability_zero_is_identity():
    image = structured_image(33, 40).astype(np.float32)
    for seed in ([0, 0], [5, 9]):
        np.testing.assert_array_equal(
            augment(image, seed, warp=True, lighting=True, p_affine=0, p_lighting=0),
            image,
        )
        np.testing.assert_array_equal(augment(image, seed, rotation=0, zoom=0), image)


def test_shape_dtype_and_range_are_kept():
    for image in (BATCH[0], BATCH.astype(np.float32)):
        out = augment(image, SEED, **ALL_STEPS)
        assert out.shape == image.shape and out.dtype == image.dtype
        values = out.numpy().astype(np.float64)
        assert values.min() >= 0.0 and values.max() <= 255.0
        assert not np.array_equal(values, image)


def test_zoom_only_magnifies_a_region_inside_the_image():
    # Zoom without rotation never looks outside the image: a ramp's range shrinks,
    # by at most the zoom factor.
    ramp = np.broadcast_to(np.arange(64, dtype=np.float32)[None, :, None], (64, 64, 3))
    for seed in range(5):
        out = augment(ramp, [seed, 0], rotation=False, zoom=0.3).numpy()
        span = out[32, :, 0].max() - out[32, :, 0].min()
        assert 63 / 1.3 - 0.5 <= span <= 63 + 1e-3
        assert out.min() >= 0 and out.max() <= 63 + 1e-3


def test_rotation_angles_cover_plus_minus_180():
    # The angle of a rotated impulse's position recovers the sampled rotation.
    image = np.zeros((300, 41, 41, 3), np.float32)
    image[:, 20, 35] = 255.0  # on the +x axis from the centre
    out = augment(image, [0, 7], zoom=0, p_affine=1.0).numpy()
    y, x = np.unravel_index(np.argmax(out[..., 0].reshape(300, -1), axis=1), (41, 41))
    angles = np.degrees(np.arctan2(y - 20, x - 20))
    assert angles.min() < -150 and angles.max() > 150
    assert abs(np.mean(angles > 0) - 0.5) < 0.12  # roughly uniform


def test_seeds_determine_the_output():
    a = augment(BATCH, [3, 4], dtype="float32", **ALL_STEPS).numpy()
    b = augment(BATCH, [3, 4], dtype="float32", **ALL_STEPS).numpy()
    c = augment(BATCH, [3, 5], dtype="float32", **ALL_STEPS).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    # Each image of a batch gets its own parameters.
    same = augment(np.stack([BATCH[0]] * 3), [3, 4], dtype="float32").numpy()
    assert not np.allclose(same[0], same[1]) and not np.allclose(same[1], same[2])


def test_direct_call_equals_dataset_map():
    image = tf.constant(BATCH[0])
    seed = tf.constant([11, 12], tf.int64)
    for kwargs in (ALL_STEPS, {"rotation": False, "zoom": 0.3}):

        def fn(x, s, kwargs=kwargs):
            return augment(x, s, **kwargs)

        direct = fn(image, seed).numpy()
        np.testing.assert_array_equal(direct, in_dataset_map(fn, image, seed))
        other = in_dataset_map(fn, image, tf.constant([11, 13], tf.int64))
        assert not np.array_equal(direct, other)


def test_output_dtype_float_from_uint8_equals_augmenting_floats():
    """`make_dataset` augments its cached uint8 batches straight to float32."""
    direct = augment(BATCH, SEED, dtype="float32", **ALL_STEPS)
    assert direct.dtype == tf.float32
    expected = augment(BATCH.astype(np.float32), SEED, **ALL_STEPS)
    np.testing.assert_array_equal(direct.numpy(), expected.numpy())


def test_bad_arguments_raise():
    image = random_image(8, 8)
    for name, value in (
        ("zoom", -0.1),
        ("zoom", True),
        ("rotation", "yes"),
        ("lighting", 1.5),
        ("lighting", -0.2),
        ("warp", 1.0),
        ("flip", 1),
        ("p_affine", 1.5),
        ("p_lighting", -0.1),
        ("p_affine", True),
    ):
        with pytest.raises(ValueError, match=rf"Received: {name}={value!r}$"):
            augment(image, SEED, **{name: value})
        with pytest.raises(ValueError, match=rf"Received: {name}={value!r}$"):
            augment_parameters(2, SEED, **{name: value})
    with pytest.raises(ValueError, match=r"Received: batch_size=-1$"):
        augment_parameters(-1, SEED)
    with pytest.raises(ValueError, match=r"Received: image.shape="):
        augment(image[..., 0], SEED)
    with pytest.raises(ValueError, match=r"Received: dtype='pixels'"):
        augment(image, SEED, dtype="pixels")
