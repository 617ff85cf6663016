"""Datasets, normalization, augmentation and feature-major batching.

Loaders return a validated batch-first :class:`Dataset` (``float32`` rows, ``int64`` labels,
images flattened channel-planar ``(C, H, W)``); :func:`normalize` fits a
:class:`Normalization` on the training rows; :class:`Batches` yields reproducible,
resumable feature-major batches ``(D, B)``; :class:`RandomCropFlip` augments them.
"""

from .augmentation import RandomCropFlip as RandomCropFlip
from .batching import AUGMENT_TAG as AUGMENT_TAG
from .batching import Batch as Batch
from .batching import Batches as Batches
from .datasets import Dataset as Dataset
from .datasets import one_hot as one_hot
from .loaders import DATA_ENV as DATA_ENV
from .loaders import KINDS as KINDS
from .loaders import infer_kind as infer_kind
from .loaders import load_cifar10 as load_cifar10
from .loaders import load_csv as load_csv
from .loaders import load_dataset as load_dataset
from .loaders import load_digits as load_digits
from .loaders import load_fashion_mnist as load_fashion_mnist
from .loaders import load_mnist as load_mnist
from .loaders import load_npz as load_npz
from .loaders import read_idx as read_idx
from .normalization import NORMALIZATIONS as NORMALIZATIONS
from .normalization import Normalization as Normalization
from .normalization import normalize as normalize
