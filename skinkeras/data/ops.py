"""Preprocessing as example → example ops, registered by name (issue 13, item 2).

big_vision's habit: an op is looked up by name and maps an example dict to an
example dict, reading the keys it needs. The image maps of
`skinkeras.data.preprocessing` ("none", "max_rgb", "shades_of_gray", "ben_graham")
become ops through a thin adapter that replaces ``example["image"]``; "lesion_mask" is
an ordinary op that reads ``example["mask"]`` too. What callers must know about an op
(which example keys it reads beyond the image, whether it can live inside an exported
model) is an attribute of its `Op` record, asked with `spec(name)`, never a
comparison with its name.

    op = ops.get("lesion_mask", mask_mode="gray128")
    example = op({"image": image, "mask": mask})
"""

import dataclasses
from collections.abc import Callable

from skinkeras.data import preprocessing as pp

__all__ = ["Op", "get", "names", "register", "spec"]

_OPS = {}


@dataclasses.dataclass(frozen=True)
class Op:
    """A registered preprocessing op.

    Attributes:
        name: its registered name (the value of `--preprocessing`).
        make: ``make(**options) -> fn(example) -> example``.
        needs: example keys it reads besides ``image`` (the data pipeline must
            provide them, e.g. ``("mask",)``).
        settings: `make_dataset` settings it takes as keyword options of `make`
            (e.g. ``("mask_mode",)``); the pipeline passes only these.
    """

    name: str
    make: Callable
    needs: tuple = ()
    settings: tuple = ()

    @property
    def in_model(self):
        """Whether an exported model can run it: image files carry only the image."""
        return not self.needs


def register(name, *, needs=(), settings=()):
    """Decorator: registers ``make(**options) -> fn(example) -> example`` as `name`."""

    def decorator(make):
        if name in _OPS:
            raise ValueError(
                f"Preprocessing op {name!r} is already registered. Received: name={name!r}"
            )
        _OPS[name] = Op(name, make, needs=tuple(needs), settings=tuple(settings))
        return make

    return decorator


def names():
    """The registered names, in registration order (the `--preprocessing` choices)."""
    return tuple(_OPS)


def spec(name):
    """The `Op` record of `name` (raises ValueError for an unknown name)."""
    if name not in _OPS:
        raise ValueError(
            f"Unknown preprocessing; expected one of {names()}. Received: name={name!r}"
        )
    return _OPS[name]


def get(name, **options):
    """The op `name` as ``fn(example) -> example`` (a new dict), options bound."""
    return spec(name).make(**options)


def _image_op(name):
    """Adapter: the image map `pp.preprocess(name)` as an example op."""

    def make(**options):
        image_map = pp.preprocess(name, **options)

        def op(example):
            return {**example, "image": image_map(example["image"])}

        return op

    return make


for _name in pp.PREPROCESSING_NAMES:
    register(_name)(_image_op(_name))


@register("lesion_mask", needs=("mask",), settings=("mask_mode",))
def _lesion_mask(mask_mode="grayscale"):
    """SPEC, experiment 1: colour inside the lesion, `mask_mode` outside."""
    if mask_mode not in pp.MASK_MODES:
        raise ValueError(
            f"`mask_mode` must be one of {pp.MASK_MODES}. "
            f"Received: mask_mode={mask_mode!r}"
        )

    def op(example):
        if "mask" not in example:
            raise ValueError(
                "Preprocessing 'lesion_mask' reads the example's `mask` key (the "
                "lesion mask, same spatial shape as `image`), which this example "
                "lacks. Received: keys=" + repr(sorted(example))
            )
        image = pp.apply_lesion_mask(example["image"], example["mask"], mode=mask_mode)
        return {**example, "image": image}

    return op
