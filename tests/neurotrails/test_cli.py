"""``python -m sprig.neurotrails``: options, TOML config, one-line errors, JSON output."""

import json

import pytest

from sprig.neurotrails.__main__ import main


def test_config_file_and_command_line(tmp_path, capsys):
    cfg = tmp_path / "run.toml"
    cfg.write_text(
        '[neurotrails]\ndata = "digits"\nlayers = "ReLU;ReLU;Linear"\nsizes = [64, 32, 32, 10]\n'
        "heads = 2\nhead_blocks = 2\ndensity = 0.3\nepochs = 1\nevery = 10\n"
    )
    out = tmp_path / "m.json"
    assert main(["--config", str(cfg), "--heads", "3", "--out", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["heads"] == 3 and r["head_blocks"] == 2 and r["method"] == "neurotrails"
    assert {"accuracy", "nll", "ece", "disagreement", "parameters", "flops"} <= set(r)
    assert json.loads(capsys.readouterr().out) == r


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--heads", "0"], "heads must be a positive integer, got 0"),
        (["--head-blocks", "4"], "head_blocks must be an integer in 1..3"),
        (["--sizes", "64,x"], "sizes must be comma-separated integers"),
        (["--density", "1.5"], "density must be in (0, 1]"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("sprig: error: ") and message in err and err.count("\n") == 1


def test_unknown_config_key(tmp_path, capsys):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("heads = 2\nlayer = 3\n")
    assert main(["--config", str(cfg)]) == 2
    assert "unknown config keys ['layer']" in capsys.readouterr().err


def test_sprig_neurotrails_subcommand(tmp_path, capsys):
    from sprig.cli.main import main as sprig_main

    cfg = tmp_path / "run.toml"
    cfg.write_text(
        'layers = "ReLU;ReLU;Linear"\nsizes = [64, 32, 32, 10]\nepochs = 1\nevery = 10\n'
    )
    out = tmp_path / "sub" / "m.json"
    argv = ["neurotrails", "--config", str(cfg), "--head-blocks", "2", "--init", "He"]
    assert sprig_main([*argv, "--method", "sparse", "--out", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["method"] == "sparse" and r["heads"] == 1 and r["disagreement"] == 0.0
    assert json.loads(capsys.readouterr().out) == r


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--heads", "x"], "--heads must be an integer, got 'x'"),
        (["--density", "dense"], "--density must be a number, got 'dense'"),
        (["--method", "forest"], "--method must be one of neurotrails, treenet"),
        (["--prune", "random"], "--prune must be one of magnitude, soft_magnitude"),
        (["--init", "Foo"], "bad init 'Foo': unknown initializer"),
        (["--head-blocks", "0"], "head_blocks must be an integer in 1..3"),
        (["--config", "/nonexistent/run.toml"], "cannot read config"),
    ],
)
def test_sprig_neurotrails_bad_input(argv, message, capsys):
    from sprig.cli.main import main as sprig_main

    assert sprig_main(["neurotrails", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sprig: error: ") and message in err and err.count("\n") == 1


def test_config_values_are_checked(tmp_path, capsys):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("heads = 2.5\n")
    assert main(["--config", str(cfg)]) == 2
    assert "--heads must be an integer, got 2.5" in capsys.readouterr().err
