"""The input check of the layers that take channels-last image batches."""


def check_batch(layer, input_shape, *, channels=None, static_size=None):
    """Raises `ValueError` unless `input_shape` is `(B, H, W, C)`.

    Args:
        layer: the layer whose `build` checks (its class name is in the message).
        input_shape: the shape `build` received.
        channels: the required C, or None for any.
        static_size: why H and W must be known when building (said in the
            message), or None when they may be dynamic.
    """
    valid = len(input_shape) == 4
    valid = valid and (channels is None or input_shape[-1] == channels)
    valid = valid and not (static_size and None in input_shape[1:3])
    if not valid:
        size = f" of a static size ({static_size})" if static_size else ""
        raise ValueError(
            f"{type(layer).__name__} expects channels-last batches "
            f"(B, H, W, {channels or 'C'}){size}. Received: input_shape={input_shape}"
        )
