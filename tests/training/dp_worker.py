"""One rank (or the single-process reference) of the data-parallel test; run as a script.

``python dp_worker.py OUT DST [--single]`` trains a float64 two-layer sparse MLP on the
digits for 2 epochs with batch 32 and writes ``OUT`` (npz): the final weights and the CRC of
every sparse weight's topology after every optimizer step. Under ``torchrun``-style
environment variables (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``) it joins
the gloo group and trains its shard of every batch.
"""

import sys

import numpy as np

from sprig.activations import ReLU
from sprig.data.loaders import load_digits
from sprig.data.normalization import normalize
from sprig.layers import ActivationLayer, SparseLinear
from sprig.losses import SoftmaxCrossEntropy
from sprig.models import MLP
from sprig.optimizers import Momentum
from sprig.training.callbacks import Callback
from sprig.training.distributed import DataParallel, init_from_env, topology_crcs
from sprig.training.dst import TopologyUpdate, make_algorithm
from sprig.training.loop import Trainer


class Record(Callback):
    def __init__(self):
        self.crcs = []

    def on_batch_end(self, state, logs):
        self.crcs.append(list(topology_crcs(state).values()))


def main(out, dst, single):
    rank, size = (0, 1) if single else init_from_env()
    data = normalize(load_digits(), "standardize")[0].subset(640, 200, seed=0)
    rng = np.random.default_rng(0)
    model = MLP([SparseLinear(64, 48, density=0.3, rng=rng, dtype=np.float64),
                 ActivationLayer(ReLU(), 48, np.float64),
                 SparseLinear(48, 10, density=0.5, rng=rng, dtype=np.float64)])  # fmt: skip
    alg = make_algorithm(dst, epochs=2, steps_per_epoch=20)
    rec = Record()
    callbacks = [TopologyUpdate(alg, seed=1), rec]
    if not single:
        callbacks.insert(0, DataParallel())
    Trainer(model, loss=SoftmaxCrossEntropy(), optimizer=Momentum(0.9), schedule=0.05,
            epochs=2, batch_size=32, seed=3, callbacks=callbacks,
            shard=None if single else (rank, size)).fit(data)  # fmt: skip
    arrays = {k.replace(".", "_"): v for k, v in model.state_dict().items()}
    np.savez(out, crcs=np.array(rec.crcs, dtype=np.int64), **arrays)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], "--single" in sys.argv)
