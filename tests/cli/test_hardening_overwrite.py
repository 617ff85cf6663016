"""Class 2 of issue 8, overwriting inputs and outputs: no input is replaced, no run file is
clobbered, and output paths are checked before any work (not after training)."""

from __future__ import annotations

import pytest

from hardening_util import TRAIN, Case, assert_error, copy_run, run_cases, write_dataset
from sprig.io import load_npz, save_npz


def _train(*extra):
    return [*TRAIN, *extra]


CASES = [
    Case("save-dataset-is-input", _train("--save-dataset", "{good}"),
         "is the input dataset; writing it would replace the input"),
    Case("save-weights-is-directory", _train("--save-weights", "{dir}"), "is a directory"),
    Case("save-weights-is-input", _train("--save-weights", "{good}"), "is the input dataset"),
    Case("save-weights-is-run-file", _train("--run-dir", "{fresh}", "--save-weights",
                                            "{fresh}/weights.npz"), "is the run's own weights.npz"),
    Case("save-dataset-is-load-weights", _train("--load-weights", "{weights}", "--save-dataset",
                                                "{weights}"), "is the --load-weights file"),
    Case("save-weights-parent-is-file", _train("--save-weights", "{good}/w.npz"),
         "is a file, not a directory"),
    Case("save-weights-equals-save-dataset", _train("--save-weights", "{out}.npz",
                                                    "--save-dataset", "{out}.npz"),
         "are the same file"),
    Case("export-over-run-weights", ["export", "{run}", "--nerva", "{run}/weights.npz"],
         "is the run's own weights.npz"),
    Case("export-over-run-best", ["export", "{run}/weights.npz", "--nerva", "{run}/best.npz"],
         "is the run's own best.npz"),
    Case("export-over-dataset", ["export", "{run}", "--nerva", "{good}"],
         "is not a Nerva weights file"),
    Case("export-over-other-weights", ["export", "{run}", "--nerva", "{badmeta}/weights.npz"],
         "is not a Nerva weights file"),
    Case("resume-bad-metadata", ["train", "--resume", "{badmeta}", "--no-progress"],
         "epoch -1 is outside 0..1"),
    Case("config-over-run-dir-config", ["train", "--config", "{cfgdir}/config.toml",
                                        "--run-dir", "{cfgdir}", "--no-progress"],
         "already holds a run (config.toml)"),
]  # fmt: skip


@pytest.fixture(scope="module")
def outcomes(trained_run, tmp_path_factory):
    _, good0, run0 = trained_run
    root = tmp_path_factory.mktemp("overwrite")
    good = write_dataset(root / "good.npz")
    run = copy_run(run0, root / "run")
    (root / "adir").mkdir()
    badmeta = copy_run(run0, root / "badmeta")
    arrays, meta = load_npz(badmeta / "checkpoint.npz")
    meta["epoch"] = -1
    save_npz(badmeta / "checkpoint.npz", arrays, meta=meta)
    cfgdir = root / "cfgdir"
    cfgdir.mkdir()
    (cfgdir / "config.toml").write_text(
        (run0 / "config.toml").read_text().replace(str(good0), str(good))
    )
    paths = {
        "good": str(good),
        "run": str(run),
        "dir": str(root / "adir"),
        "weights": str(run / "weights.npz"),
        "badmeta": str(badmeta),
        "cfgdir": str(cfgdir),
        "fresh": str(root / "fresh"),
    }
    return root, run_cases(root, paths, CASES)


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_overwrite_refused(outcomes, c):
    root, res = outcomes
    assert_error(res["procs"][c.id], c.expect, c.code)
    assert res["changed"] == [], f"some case changed {res['changed']}"
    assert not (root / "fresh").exists(), "a failed start left a run directory behind"
