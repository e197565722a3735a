"""Model builders and the profiler, checked against counts worked out by hand."""

from __future__ import annotations

import pytest

from ghost_keras.models import ARCHITECTURES, RECURRENT_WIDTHS, build_model
from ghost_keras.profile import profile_model


def test_gru_s_hand_count():
    # GRU-S of Hello Edge on 10 MFCC x 49 frames: n=154, d=10, 12 labels, Keras reset_after
    # (two bias vectors of 3n).
    n, d, k, frames = 154, 10, 12, 49
    p = profile_model(build_model("gru", "S", input_shape=(frames, d), num_labels=k))
    rnn_weights, rnn_biases = 3 * n * d + 3 * n * n, 2 * 3 * n
    assert p.params == rnn_weights + rnn_biases + n * k + k == 78_552
    assert p.int8_bytes == rnn_weights + 4 * rnn_biases + n * k + 4 * k
    step = 3 * n * (d + n)
    assert p.macs_per_frame == step + n * k
    assert p.macs_per_decision == frames * step + n * k
    assert p.state_bytes == n


@pytest.mark.parametrize("ratio", [2, 4])
def test_ghost_gru_hand_count(ratio):
    n, d, k, frames = 154, 10, 12, 49
    m, g = n // ratio, n - n // ratio
    p = profile_model(build_model("ghost_gru", "S", input_shape=(frames, d), num_labels=k,
                                  ratio=ratio))
    # kernel d x 3m, gates [h, g] -> 2m, W_hc m x m, W_gc g x m, cheap op m x g (+ g bias).
    weights = d * 3 * m + n * 2 * m + m * m + g * m + m * g
    biases = 2 * 3 * m + g
    assert p.params == weights + biases + n * k + k
    assert p.int8_bytes == weights + 4 * biases + n * k + 4 * k
    assert p.macs_per_frame == weights + n * k
    assert p.macs_per_decision == frames * weights + n * k
    assert p.state_bytes == n


def test_ghost_gru_ratio2_is_about_40_percent_smaller():
    for size in "SML":
        gru = profile_model(build_model("gru", size, input_shape=(49, 10)))
        ghost = profile_model(build_model("ghost_gru", size, input_shape=(49, 10)))
        assert 0.37 < 1 - ghost.params / gru.params < 0.44, size
        assert 0.37 < 1 - ghost.macs_per_decision / gru.macs_per_decision < 0.44, size


def test_lstm_and_ghost_lstm_counts():
    n, d, k = RECURRENT_WIDTHS["lstm"]["S"], 10, 12
    m = n // 2
    lstm = profile_model(build_model("lstm", "S", input_shape=(49, d), num_labels=k))
    assert lstm.macs_per_frame == 4 * n * (d + n) + n * k
    assert lstm.state_bytes == 2 * n
    ghost = profile_model(build_model("ghost_lstm", "S", input_shape=(49, d), num_labels=k))
    assert ghost.macs_per_frame == 4 * m * (d + n) + m * (n - m) + n * k
    assert ghost.state_bytes == n + m


def test_ds_cnn_s_matches_mlperf_tiny_macs():
    p = profile_model(build_model("ds_cnn", "S", input_shape=(49, 10)))
    # MLPerf Tiny's DS-CNN reference: ~2.66M MACs, ~22.6k parameters after BN folding.
    assert 2.6e6 < p.macs_per_decision < 2.7e6
    assert p.macs_per_frame == p.macs_per_decision  # a window model recomputes its window
    folded = p.params - sum(lp.params for lp in p.layers if lp.kind == "BatchNormalization") // 2
    assert 22_000 < folded < 23_500
    assert p.state_bytes == 0 and not p.recurrent


def test_table_lists_every_counted_layer_and_totals():
    p = profile_model(build_model("ghost_gru", "S", input_shape=(49, 40)))
    text = p.table()
    assert "GhostGRU" in text and "Total" in text and f"{p.params:,}" in text
    assert p.to_dict()["macs_per_frame"] == p.macs_per_frame


def test_builder_shapes_and_errors():
    for arch in ARCHITECTURES:
        model = build_model(arch, "S", input_shape=(49, 40), num_labels=7)
        assert model.output_shape == (None, 7), arch
    assert build_model("gru", "S", per_frame=True).output_shape == (None, 49, 12)
    with pytest.raises(ValueError, match="unknown arch"):
        build_model("transformer")
    with pytest.raises(ValueError, match="size"):
        build_model("gru", "XL")
    with pytest.raises(ValueError, match="window model"):
        build_model("ds_cnn", per_frame=True)


def test_profile_module_prints_no_tensorflow_start_up_lines(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from ghost_keras.quiet import NOISE

    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    done = subprocess.run([sys.executable, "-m", "ghost_keras.profile", "--input-shape", "49",
                           "10"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "GhostGRU r2-S" in done.stdout
    assert not [line for line in done.stderr.splitlines()
                if any(noise in line for noise in NOISE)], done.stderr


def _readme_size_table() -> tuple[str, dict[str, list[str]]]:
    """The README's model-size table: its text and its rows by model name."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Model sizes", 1)[1]
    table = section.split("```\n", 2)[1].rstrip("\n")
    rows = {cells[0]: cells[1:5] for cells in
            ([c.strip() for c in line.split("|")] for line in table.splitlines()[2:])}
    return table, rows


def test_readme_size_table_is_what_the_profiler_prints():
    from ghost_keras.profile import compare_sizes

    assert _readme_size_table()[0] == compare_sizes()


def test_readme_profile_command_reproduces_its_table_row(capsys):
    import re
    import shlex
    from pathlib import Path

    from ghost_keras import cli

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    command = shlex.split(re.search(r"`(ghost-kws profile [^`]*)`", readme).group(1))
    assert cli.main(command[1:]) == 0
    total = next(line for line in capsys.readouterr().out.splitlines()
                 if line.startswith("Total"))
    params, int8_bytes, macs_frame, macs_decision = [c.strip() for c in total.split("|")][2:6]
    args = cli.build_parser().parse_args(command[1:])
    name = {"gru": "GRU", "ghost_gru": f"GhostGRU r{args.ratio}"}[args.arch] + f"-{args.size}"
    assert _readme_size_table()[1][name] == [params, int8_bytes, macs_frame, macs_decision]
