"""Procedurally drawn dermoscopy-like lesion images (numpy + OpenCV, deterministic).

Every image is drawn from its own `numpy.random.Generator`, so an example depends only
on its seed: the same seed gives the same pixels on every run and machine.

What tells the classes apart is *shape and texture*, not colour on average:
- nevus: a regular, nearly elliptical outline, one colour with a soft edge;
- melanoma: an irregular, asymmetric outline with a partly sharp edge and several
  colours inside (black-brown, blue-gray, red, regression white), dark globules;
- seborrheic keratosis: a regular, sharply bounded "stuck-on" lesion, textured with
  light milia-like dots and dark comedo-like openings.
All classes share the same distributions of skin tone, illumination, vignetting,
hairs, lesion size and base lesion colour, so the mean colour of an image says
little about its class (tests/tfds_isic check that a logistic regression on mean RGB
stays weak while a small CNN learns the task).
"""

import cv2
import numpy as np

NEVUS, MELANOMA, SEBORRHEIC_KERATOSIS = 0, 1, 2

# RGB anchors, 0..255.
_SKIN_LIGHT = np.array([238.0, 208.0, 190.0])
_SKIN_DARK = np.array([150.0, 100.0, 75.0])
_LESION_LIGHT = np.array([190.0, 135.0, 100.0])
_LESION_DARK = np.array([80.0, 48.0, 35.0])
# Melanoma's extra colours (dermoscopic: black, blue-gray, red, regression white).
_MELANOMA_COLOURS = np.array(
    [
        [45.0, 30.0, 28.0],
        [95.0, 105.0, 130.0],
        [175.0, 80.0, 75.0],
        [215.0, 190.0, 180.0],
        [120.0, 70.0, 45.0],
    ]
)


def _smooth_noise(rng, size, cells, amplitude):
    """Low-frequency noise field (size, size) in [-amplitude, amplitude]-ish."""
    coarse = rng.normal(0.0, 1.0, (cells, cells)).astype(np.float32)
    field = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
    return amplitude * field


def _skin(rng, size):
    """Skin-toned background with illumination gradient, texture and vignetting."""
    tone = rng.uniform(0.0, 1.0)
    colour = (1 - tone) * _SKIN_LIGHT + tone * _SKIN_DARK + rng.normal(0, 6, 3)
    image = np.broadcast_to(colour, (size, size, 3)).astype(np.float32).copy()

    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1) - 0.5
    angle = rng.uniform(0, 2 * np.pi)
    gradient = 1 + rng.uniform(0.0, 0.3) * (np.cos(angle) * xx + np.sin(angle) * yy)
    texture = 1 + _smooth_noise(rng, size, 6, 0.03)
    shading = gradient * texture
    if rng.uniform() < 0.6:  # dark corners of a round dermatoscope lens
        radius = np.sqrt(xx**2 + yy**2) / np.sqrt(0.5)
        shading *= 1 - rng.uniform(0.2, 0.7) * np.clip(radius - 0.6, 0, None) / 0.4
    return image * shading[..., None], colour


def _outline(rng, size, kind):
    """Lesion outline as an (N, 2) int32 polygon and its mean radius in pixels."""
    center = size / 2 + rng.normal(0, size * 0.05, 2)
    radius = rng.uniform(0.14, 0.32) * size
    aspect = rng.uniform(0.7, 1.0)
    rotation = rng.uniform(0, np.pi)
    theta = np.linspace(0, 2 * np.pi, 240, endpoint=False)
    r = np.ones_like(theta)
    if kind == MELANOMA:
        # Irregular and asymmetric: many harmonics, one side bulging.
        for k in range(2, 11):
            r += (
                rng.uniform(0.02, 0.16) / k**0.6 * np.cos(k * theta + rng.uniform(0, 7))
            )
        r += rng.uniform(0.1, 0.25) * np.cos(theta - rng.uniform(0, 2 * np.pi))
    else:
        # Regular: a gently deformed ellipse.
        for k in range(2, 4):
            r += rng.uniform(0.0, 0.04) * np.cos(k * theta + rng.uniform(0, 7))
    x = r * np.cos(theta) * radius
    y = r * np.sin(theta) * radius * aspect
    xr = x * np.cos(rotation) - y * np.sin(rotation) + center[0]
    yr = x * np.sin(rotation) + y * np.cos(rotation) + center[1]
    points = np.stack([xr, yr], axis=1)
    return np.round(points).astype(np.int32), radius


def _fill(size, points):
    mask = np.zeros((size, size), np.uint8)
    cv2.fillPoly(mask, [points], 1)
    return mask


def _blobs(rng, size, mask, count, radius_range):
    """`count` soft random blobs inside `mask`; (count, size, size) float weights."""
    ys, xs = np.nonzero(mask)
    out = np.zeros((count, size, size), np.float32)
    for i in range(count):
        j = rng.integers(len(xs))
        r = max(1.0, rng.uniform(*radius_range))
        cv2.circle(out[i], (int(xs[j]), int(ys[j])), int(round(r)), 1.0, -1)
        out[i] = cv2.GaussianBlur(out[i], (0, 0), r / 2 + 0.5)
    return out * mask[None]


def draw_lesion(rng, kind, size=128):
    """Draws one lesion image.

    Args:
        rng: `numpy.random.Generator`; the image depends only on its state.
        kind: `NEVUS`, `MELANOMA` or `SEBORRHEIC_KERATOSIS`.
        size: output side in pixels.

    Returns:
        `(image, mask)`: uint8 RGB image (size, size, 3) and uint8 lesion mask
        (size, size) with values 0/1.
    """
    if kind not in (NEVUS, MELANOMA, SEBORRHEIC_KERATOSIS):
        raise ValueError(f"`kind` must be 0, 1 or 2. Received: kind={kind}")
    image, skin = _skin(rng, size)
    points, radius = _outline(rng, size, kind)
    mask = _fill(size, points)

    # Base lesion colour: the same distribution for every class.
    darkness = rng.uniform(0.0, 1.0)
    base = (1 - darkness) * _LESION_LIGHT + darkness * _LESION_DARK
    base = base + rng.normal(0, 8, 3)
    # Pigmented: always darker than the skin around it.
    base *= min(1.0, 0.8 * skin.mean() / base.mean())
    colour = np.broadcast_to(base, (size, size, 3)).astype(np.float32).copy()
    colour *= (1 + _smooth_noise(rng, size, 5, 0.04))[..., None]

    if kind == NEVUS:
        edge_sigma = rng.uniform(1.5, 3.0)
    elif kind == SEBORRHEIC_KERATOSIS:
        edge_sigma = rng.uniform(0.5, 1.0)
        # Milia-like light dots and comedo-like dark openings, spread evenly.
        n = int(rng.integers(8, 20))
        for weight, shade in zip(
            _blobs(rng, size, mask, n, (0.8, 2.0)), rng.uniform(0, 1, n), strict=True
        ):
            target = base * (1.35 if shade < 0.6 else 0.55)
            colour += weight[..., None] * (target - colour)
    else:  # MELANOMA: variegated colours and globules, centred around `base`
        edge_sigma = rng.uniform(0.5, 2.0)
        n = int(rng.integers(3, 7))
        picks = rng.choice(len(_MELANOMA_COLOURS), n)
        for weight, pick in zip(
            _blobs(rng, size, mask, n, (0.12 * radius, 0.35 * radius)),
            picks,
            strict=True,
        ):
            target = _MELANOMA_COLOURS[pick]
            colour += rng.uniform(0.6, 1.0) * weight[..., None] * (target - colour)
        # Irregular dark globules near the border.
        border = mask - cv2.erode(mask, np.ones((5, 5), np.uint8), iterations=2)
        if border.any():
            globules = _blobs(rng, size, border, int(rng.integers(3, 9)), (1.0, 2.5))
            colour *= 1 - 0.6 * np.clip(globules.sum(0), 0, 1)[..., None]

    alpha = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), edge_sigma)
    alpha *= rng.uniform(0.75, 1.0)
    image = image * (1 - alpha[..., None]) + colour * alpha[..., None]

    # Hairs: same chance and look for every class.
    for _ in range(int(rng.poisson(1.0)) if rng.uniform() < 0.4 else 0):
        start = rng.uniform(0, size, 2)
        direction = rng.normal(0, 1, 2)
        bend = rng.normal(0, 0.02, 2)
        steps = np.arange(0, size * 1.2, 2.0)[:, None]
        curve = start + steps * direction / np.linalg.norm(direction) + bend * steps**2
        hair = tuple(int(c) for c in rng.uniform(20, 60, 3))
        cv2.polylines(
            image, [np.round(curve).astype(np.int32)], False, hair, 1, cv2.LINE_AA
        )

    image += rng.normal(0, 2.5, image.shape)
    return np.clip(np.round(image), 0, 255).astype(np.uint8), mask
