"""inspect's layer table at 80 columns (issue 10 #11): no cell is split inside a word, and the table fits
when it can (one-space gaps, then the dtype column named once above)."""
from __future__ import annotations

from optimize_cli.cli.inspect import print_inspection
from optimize_cli.inspect import inspection_text, layer_table_lines

LAYERS = [("conv1", "Conv2D", [3, 3, 1, 32]), ("conv1_bn", "BatchNormalization", None),
          ("dw1", "DepthwiseConv2D", [3, 3, 32, 1]), ("pw1", "Conv2D", [1, 1, 32, 32]),
          ("gap", "GlobalAveragePooling2D", None), ("logits", "Dense", [48, 10])]


def _info() -> dict:
    layers = [{"name": n, "class": c, "shape": s, "dtype": "float32", "params": 1536, "sparsity": 0.5,
               "unique_weights": 1024, "max_unique_per_channel": 32} for n, c, s in LAYERS]
    return {"path": "m", "format": "saved_model", "sizes": {"bytes": 1, "compressed_bytes": 1,
                                                             "compression_saved_percent": 0.0},
            "inputs": [], "outputs": [], "layers": layers, "totals": {"params": 10}}


def test_inspection_text_at_80_columns_keeps_every_cell_whole():
    lines = inspection_text(_info(), 80).plain.splitlines()
    table = [line for line in lines if line.split() and line.split()[0] in {n for n, _, _ in LAYERS}]
    assert len(table) == len(LAYERS)
    for (name, cls, _), line in zip(LAYERS, table, strict=True):
        assert line.split()[:2] == [name, cls] and len(line) <= 80, line
        assert line.endswith("32")  # the last column is whole on the same line
    header = next(line for line in lines if line.startswith("layer"))
    assert header.split() == ["layer", "class", "shape", "params", "sparsity", "unique", "max/ch"]
    assert "dtype: float32 (every layer)" in lines


def test_cli_prints_the_inspection_at_the_terminals_width(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "80")
    print_inspection(_info())
    assert capsys.readouterr().out.splitlines() == inspection_text(_info(), 80).plain.splitlines()
    monkeypatch.delenv("COLUMNS")
    print_inspection(_info())  # not a terminal: 140 columns, the dtype column kept
    assert capsys.readouterr().out.splitlines() == inspection_text(_info(), 140).plain.splitlines()


def test_layer_table_keeps_two_space_gaps_and_dtype_when_wide_enough():
    rows = [("conv", "Conv2D", "[3, 3]", "int8", "9", "0.0%", "9", "9"), ("fc", "Dense", "[4]", "float32", "4", "-", "-", "-")]
    lines = layer_table_lines(["layer", "class", "shape", "dtype", "params", "sparsity", "unique", "max/ch"], rows, 80)
    assert lines[0] == "layer  class   shape   dtype    params  sparsity  unique  max/ch"
    assert lines[1].startswith("conv   Conv2D  [3, 3]  int8    ") and lines[1].endswith("      9")
