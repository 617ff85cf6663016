"""The GPT model and the character dataset of sprig.torch (shapes, causality, training, seeds)."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch.nn") and pytest.importorskip("torch")

from sprig.errors import ConfigError, DataError  # noqa: E402
from sprig.torch.data import CharDataset  # noqa: E402
from sprig.torch.models import GPT, GPTConfig, block_linear_names  # noqa: E402


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models: one intra-op thread is faster than two on a loaded machine (no spin-waits)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


TEXT = "to be, or not to be: that is the question. " * 40


def tiny(vocab: int = 11, **kw: object) -> GPTConfig:
    base: dict[str, object] = dict(vocab_size=vocab, context=16, n_layer=2, width=16, n_head=2)
    base.update(kw)
    return GPTConfig(**base)  # type: ignore[arg-type]


def test_shapes_and_stages():
    torch.manual_seed(0)
    model = GPT(tiny())
    idx = torch.randint(11, (3, 7))
    logits = model(idx)
    assert logits.shape == (3, 7, 11)
    staged = model.logits(model.run_blocks(model.run_blocks(model.embed(idx), 0, 1), 1))
    torch.testing.assert_close(staged, logits, rtol=0, atol=0)
    loss = model.loss(idx, idx)
    assert loss.shape == () and torch.isfinite(loss)
    assert len(model.blocks) == 2 and isinstance(model.blocks, torch.nn.ModuleList)
    assert block_linear_names(model) == [
        f"blocks.{i}.{n}"
        for i in range(2)
        for n in ("attn.q", "attn.k", "attn.v", "attn.out", "mlp.fc", "mlp.proj")
    ]
    # GPT-2 initialisation: the initial loss is close to ln(vocab)
    assert abs(loss.item() - math.log(11)) < 0.1


def test_parameter_count_matches_the_formula():
    cfg = tiny(vocab=13, context=8, n_layer=3, width=24, n_head=4, mlp_ratio=2)
    W, h = cfg.width, cfg.mlp_ratio * cfg.width
    per_block = 4 * (W * W + W) + (W * h + h) + (h * W + W) + 2 * 2 * W
    expected = 13 * W + 8 * W + 3 * per_block + 2 * W + (W * 13 + 13)
    assert sum(p.numel() for p in GPT(cfg).parameters()) == expected


def test_causality_future_tokens_do_not_change_past_logits():
    torch.manual_seed(1)
    model = GPT(tiny(context=12)).double()
    idx = torch.randint(11, (2, 12))
    changed = idx.clone()
    t = 5
    changed[:, t:] = (changed[:, t:] + 3) % 11
    a, b = model(idx), model(changed)
    torch.testing.assert_close(a[:, :t], b[:, :t], rtol=1e-12, atol=1e-12)
    assert (a[:, t:] - b[:, t:]).abs().max() > 1e-3  # the later positions do see the change


def test_attention_matches_an_explicit_masked_softmax():
    torch.manual_seed(2)
    model = GPT(tiny(n_layer=1)).double()
    attn = model.blocks[0].attn
    x = torch.randn(2, 6, 16, dtype=torch.float64)
    B, T, C, H = 2, 6, 16, 2

    def heads(t):
        return t.view(B, T, H, C // H).transpose(1, 2)

    q, k, v = heads(attn.q(x)), heads(attn.k(x)), heads(attn.v(x))
    scores = q @ k.transpose(-1, -2) / math.sqrt(C // H)
    scores = scores.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
    y = (scores.softmax(-1) @ v).transpose(1, 2).reshape(B, T, C)
    torch.testing.assert_close(attn(x), attn.out(y), rtol=1e-12, atol=1e-12)


def _train(seed: int, steps: int) -> tuple[list[float], GPT]:
    ds = CharDataset(TEXT)
    torch.manual_seed(seed)
    model = GPT(tiny(vocab=ds.vocab_size))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(steps):
        x, y = ds.batch("train", 8, 16, generator=gen)
        loss = model.loss(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, model


def test_loss_decreases_on_a_tiny_run():
    losses, _ = _train(0, 60)
    assert sum(losses[-10:]) / 10 < 0.6 * sum(losses[:5]) / 5


def test_deterministic_with_a_seed():
    a, ma = _train(3, 5)
    b, mb = _train(3, 5)
    c, _ = _train(4, 5)
    assert a == b and a != c
    for pa, pb in zip(ma.parameters(), mb.parameters(), strict=True):
        assert torch.equal(pa, pb)
    ds = CharDataset(TEXT)
    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    s1 = ma.generate(ds.encode("to ")[None], 10, generator=g1)
    s2 = ma.generate(ds.encode("to ")[None], 10, generator=g2)
    assert torch.equal(s1, s2) and s1.shape == (1, 13)


def test_generator_argument_seeds_the_initialisation():
    a = GPT(tiny(), generator=torch.Generator().manual_seed(5))
    b = GPT(tiny(), generator=torch.Generator().manual_seed(5))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        (dict(width=10, n_head=3), "multiple of n_head"),
        (dict(n_layer=0), "n_layer"),
        (dict(context=2.5), "context"),
        (dict(dropout=1.0), "dropout"),
    ],
)
def test_config_errors(kw, match):
    with pytest.raises(ConfigError, match=match):
        tiny(**kw)


def test_input_errors():
    model = GPT(tiny(context=4))
    with pytest.raises(DataError, match="exceeds the context 4"):
        model(torch.zeros(1, 5, dtype=torch.long))
    with pytest.raises(DataError, match="2-D integer tensor"):
        model(torch.zeros(1, 3))
    with pytest.raises(DataError, match="targets"):
        model.loss(torch.zeros(1, 3, dtype=torch.long), torch.zeros(1, 2, dtype=torch.long))


# ---------------------------------------------------------------- data


def test_char_dataset_vocabulary_split_and_batches():
    ds = CharDataset(TEXT)
    assert ds.chars == sorted(set(TEXT)) and ds.vocab_size == len(set(TEXT))
    assert ds.decode(ds.encode(TEXT[:50])) == TEXT[:50]
    n = len(TEXT)
    assert len(ds.splits["train"]) == int(0.9 * n)
    assert len(ds.splits["train"]) + len(ds.splits["val"]) == n
    assert ds.decode(ds.splits["val"]) == TEXT[int(0.9 * n) :]
    x, y = ds.batch("train", 5, 9, generator=torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (5, 9) and x.dtype == torch.long
    assert torch.equal(x[:, 1:], y[:, :-1])
    train = ds.decode(ds.splits["train"])
    for row_x, row_y in zip(x, y, strict=True):  # each window is a real piece of the train text
        assert (ds.decode(row_x) + ds.decode(row_y[-1:])) in train
    # same seed, same batches; another seed, other batches
    b1 = ds.batch("val", 4, 8, generator=torch.Generator().manual_seed(1))
    b2 = ds.batch("val", 4, 8, generator=torch.Generator().manual_seed(1))
    b3 = ds.batch("val", 4, 8, generator=torch.Generator().manual_seed(2))
    assert torch.equal(b1[0], b2[0]) and not torch.equal(b1[0], b3[0])


def test_char_dataset_windows_cover_the_split_in_order():
    ds = CharDataset("abcdefghijklmnopqrstuvwxyz" * 2, train_fraction=0.5)
    val = ds.splits["val"]
    got = list(ds.windows("val", 4, batch_size=2))
    xs = torch.cat([x for x, _ in got])
    assert xs.shape == ((len(val) - 1) // 4, 4)
    assert torch.equal(xs.reshape(-1), val[: xs.numel()])
    assert len(list(ds.windows("val", 4, batch_size=2, max_batches=1))) == 1


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda ds: ds.batch("test", 2, 4), "split must be one of"),
        (lambda ds: ds.batch("train", 0, 4), "batch_size"),
        (lambda ds: ds.batch("train", 2, 0), "context"),
        (lambda ds: ds.batch("val", 2, 10_000), "too few for context"),
        (lambda ds: ds.encode("Z"), "not in the vocabulary"),
        (lambda ds: ds.decode([999]), "token ids"),
    ],
)
def test_char_dataset_errors(call, match):
    with pytest.raises(DataError, match=match):
        call(CharDataset(TEXT))


def test_char_dataset_bad_construction(tmp_path):
    with pytest.raises(DataError, match="train_fraction"):
        CharDataset(TEXT, train_fraction=1.0)
    with pytest.raises(DataError, match="at least 2 characters"):
        CharDataset("a")
    with pytest.raises(DataError, match="does not exist"):
        CharDataset.from_file(tmp_path / "missing.txt")
    path = tmp_path / "t.txt"
    path.write_text(TEXT, encoding="utf-8")
    assert CharDataset.from_file(path).vocab_size == CharDataset(TEXT).vocab_size
