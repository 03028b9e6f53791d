"""AdamW with per-layer-group learning rates (fastai's discriminative learning rates).

The study trains the U-Net with lr 3e-4 for the decoder and 3e-5 for the encoder
(SPEC: Lesion segmentation) — fastai's ``lr=slice(3e-5, 3e-4)``. Adam is invariant to
the scale of the gradient, so scaling the encoder's gradients would not scale its
steps; instead one optimizer multiplies the learning rate (and with it the
decoupled weight decay, as fastai's ``true_wd`` does) of each variable by its
group's factor. One schedule (e.g. one-cycle) then drives every group in step.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="skinkeras")
class LayerGroupAdamW(keras.optimizers.Adam):
    """AdamW whose learning rate is multiplied per variable by its group's factor.

    A variable's factor is that of the longest key of ``lr_multipliers`` that
    starts its path (``layer_name/variable_name``); no matching key means 1.0.
    For the U-Net, ``{"": 0.1, "decoder_": 1.0}`` gives the encoder a tenth of the
    decoder's learning rate. Per step, with ``lr_v = lr * factor``:

        w <- w - lr_v * weight_decay * w          (decoupled weight decay)
        w <- Adam step of w with learning rate lr_v

    One-cycle momentum works as for the classifiers: the training stream's
    `attach_beta_1` swaps ``beta_1`` for a variable that `OneCycleMomentum` assigns.

    Args:
        learning_rate: float or `LearningRateSchedule`, the factor-1.0 group's rate.
        lr_multipliers: dict of variable-path prefix → learning-rate factor.
        weight_decay: decoupled weight decay (fastai / SPEC: 0.01), scaled like the
            learning rate; 0 or None disables it.
        beta_1, beta_2, epsilon: Adam's (fastai v1 AdamW: 0.9, 0.99 and torch's 1e-8).
        **kwargs: other `keras.optimizers.Optimizer` arguments.
    """

    def __init__(
        self,
        learning_rate=1e-3,
        *,
        lr_multipliers=None,
        weight_decay=0.01,
        beta_1=0.9,
        beta_2=0.99,
        epsilon=1e-8,
        name="layer_group_adamw",
        **kwargs,
    ):
        lr_multipliers = dict(lr_multipliers or {})
        for prefix, factor in lr_multipliers.items():
            if not isinstance(prefix, str) or not factor >= 0:
                raise ValueError(
                    "`lr_multipliers` must map string prefixes to non-negative "
                    f"factors. Received: lr_multipliers={lr_multipliers}"
                )
        # The base class's weight decay would use the unscaled learning rate.
        kwargs.pop("weight_decay", None)
        super().__init__(
            learning_rate=learning_rate,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            name=name,
            **kwargs,
        )
        self.lr_multipliers = lr_multipliers
        self.decoupled_weight_decay = weight_decay or 0.0

    def multiplier(self, variable):
        """The learning-rate factor of ``variable`` (longest matching prefix)."""
        path = getattr(variable, "path", variable.name)
        matches = [prefix for prefix in self.lr_multipliers if path.startswith(prefix)]
        if not matches:
            return 1.0
        return float(self.lr_multipliers[max(matches, key=len)])

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._multipliers = [self.multiplier(variable) for variable in var_list]

    def update_step(self, gradient, variable, learning_rate):
        factor = self._multipliers[self._get_variable_index(variable)]
        lr = ops.cast(learning_rate, variable.dtype) * factor
        if self.decoupled_weight_decay:
            wd = ops.cast(self.decoupled_weight_decay, variable.dtype)
            self.assign_sub(variable, variable * wd * lr)
        super().update_step(gradient, variable, lr)

    def get_config(self):
        config = super().get_config()
        config.update(
            # A cycled beta_1 is a variable; its current value is what to save.
            beta_1=float(keras.ops.convert_to_numpy(self.beta_1)),
            lr_multipliers=dict(self.lr_multipliers),
            weight_decay=self.decoupled_weight_decay,
        )
        return config
