"""Patient metadata (age, sex, anatomic site) as one float vector (issue 26)."""

import keras
from keras import ops

# The inputs, in the order their codes are concatenated.
METADATA_INPUTS = ("age", "sex", "site")


@keras.saving.register_keras_serializable(package="skinkeras")
class MetadataEncoding(keras.layers.Layer):
    """Encodes age, sex and anatomic site for the model's metadata branch.

    As Gessert et al. (MethodsX 2020) feed ISIC metadata to their network: age as one
    scaled number, sex and site one-hot. Unknowns get their own code:

        age_code  = clip((age - low) / (high - low), 0, 1), 0 when unknown
        age_unknown = 1 if age < 0 or age is NaN (unknown) else 0
        sex_code  = one_hot(sex, len(sex_names) + 1)   # index outside → last slot
        site_code = one_hot(site, len(site_names) + 1)
        output    = concat(age_code, age_unknown, sex_code, site_code)

    Input: a dict of `"age"` (float years; -1, any negative or NaN unknown), `"sex"` and `"site"` (int
    indices into `sex_names` / `site_names`; -1 or any index outside them is
    unknown), each `(batch,)` or `(batch, 1)`.
    Output: `(batch, 2 + len(sex_names) + 1 + len(site_names) + 1)` float.

    Args:
        age_range: `(low, high)` years mapped to 0 and 1.
        sex_names: the sex vocabulary (the dataset's names, without "unknown").
        site_names: the anatomic site vocabulary, likewise.
    """

    def __init__(self, age_range, sex_names, site_names, **kwargs):
        super().__init__(**kwargs)
        low, high = (float(v) for v in age_range)
        if not low < high:
            raise ValueError(
                f"`age_range` must be (low, high) with low < high. "
                f"Received: age_range={age_range!r}"
            )
        for name, names in (("sex_names", sex_names), ("site_names", site_names)):
            if not names or len(set(names)) != len(names):
                raise ValueError(
                    f"`{name}` must be distinct names, at least one. "
                    f"Received: {name}={names!r}"
                )
        self.age_range = (low, high)
        self.sex_names = list(sex_names)
        self.site_names = list(site_names)

    @property
    def units(self):
        """Length of the code: 2 (age) + sexes + 1 + sites + 1."""
        return 2 + len(self.sex_names) + 1 + len(self.site_names) + 1

    def _one_hot(self, index, size):
        index = ops.reshape(ops.cast(index, "int32"), (-1,))
        known = ops.logical_and(index >= 0, index < size)
        return ops.one_hot(
            ops.where(known, index, size), size + 1, dtype=self.compute_dtype
        )

    def call(self, inputs):
        low, high = self.age_range
        age = ops.reshape(ops.cast(inputs["age"], self.compute_dtype), (-1, 1))
        # NaN is unknown: -1 before any arithmetic (NaN * 0 is NaN). A `where` on
        # `isnan` stays a select in ONNX; tf2onnx turns other selects into
        # x * cond + y * (1 - cond), which lets a NaN through.
        age = ops.where(ops.isnan(age), -1.0, age)
        known = ops.cast(age >= 0, self.compute_dtype)
        age_code = ops.clip((age - low) / (high - low), 0.0, 1.0) * known  # (B, 1)
        sex_code = self._one_hot(inputs["sex"], len(self.sex_names))  # (B, S + 1)
        site_code = self._one_hot(inputs["site"], len(self.site_names))  # (B, T + 1)
        return ops.concatenate([age_code, 1.0 - known, sex_code, site_code], axis=-1)

    def compute_output_shape(self, input_shape):
        batch = input_shape["age"][0]
        return (batch, self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "age_range": list(self.age_range),
            "sex_names": self.sex_names,
            "site_names": self.site_names,
        }
