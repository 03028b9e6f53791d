"""XLA fusion of small `keras.ops` functions on the TensorFlow backend.

TensorFlow runs a graph's element-wise ops one by one on CPU: each reads and
writes whole feature maps, so a chain such as ARL's (max, exp, sum, scale,
multiply, add; about 15 passes forward and backward) costs far more memory
traffic than its arithmetic. Compiling the chain with XLA fuses it into a few
loops. JAX already compiles the whole train step with XLA, and torch runs
eagerly, so there the functions run as written.

`xla_fused(fn)` is the one place in `skinkeras.layers` that names TensorFlow;
the functions it compiles use `keras.ops` only. Set the environment variable
`SKINKERAS_XLA_FUSION=0` before importing skinkeras to run them unfused (for a
TensorFlow build without XLA, e.g. some plugin devices).
"""

import os

import keras

ENV_VAR = "SKINKERAS_XLA_FUSION"


def fusion_enabled():
    """True when `xla_fused` compiles: TensorFlow backend, not switched off."""
    switch = os.environ.get(ENV_VAR, "1").strip().lower()
    if switch not in ("0", "1", "false", "true", "off", "on", ""):
        raise ValueError(
            f"{ENV_VAR} must be 0 or 1 (or false/true, off/on). "
            f"Received: {ENV_VAR}={os.environ.get(ENV_VAR)!r}"
        )
    return keras.backend.backend() == "tensorflow" and switch not in (
        "0",
        "false",
        "off",
    )


def xla_fused(fn):
    """`fn` compiled by XLA on the TensorFlow backend, else `fn` itself.

    The result is called like `fn` (tensors in, tensors out) inside or outside
    a traced graph; XLA compiles once per input shape and dtype.
    """
    if not fusion_enabled():
        return fn
    import tensorflow as tf

    return tf.function(fn, jit_compile=True, autograph=False)
