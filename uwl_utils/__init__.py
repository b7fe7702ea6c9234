"""uwl_utils: uncertainty-weighted loss functions for adversarial attacks on semantic segmentation.

The package installs its pure-PyTorch stand-in for the compiled ``mmcv.ops`` before anything imports
mmseg (see :mod:`uwl_utils.mmseg_compat`). ``load_model`` and ``load_dataset`` are imported lazily so
that ``import uwl_utils`` stays cheap.
"""

from uwl_utils import mmseg_compat

mmseg_compat.install()

__all__ = ["load_dataset", "load_model"]


def __getattr__(name: str):
    if name == "load_model":
        from uwl_utils.models import load_model

        return load_model
    if name == "load_dataset":
        from uwl_utils.data import load_dataset

        return load_dataset
    raise AttributeError(f"module 'uwl_utils' has no attribute {name!r}")
