"""Run plots: what a learning-curve figure draws, and the shared log-axis ticks."""

from __future__ import annotations

from ghost_keras import plots


def test_one_epoch_learning_curve_shows_its_point(monkeypatch, tmp_path):
    drawn = {}

    def keep(fig, path):
        drawn["lines"] = [line for ax in fig.axes for line in ax.get_lines()]
        return path

    monkeypatch.setattr(plots, "save_figure", keep)
    history = {"loss": [1.2], "val_loss": [1.3], "accuracy": [0.4], "val_accuracy": [0.35]}
    plots.plot_history(history, tmp_path / "curves.png")
    # One point and no marker: a line of zero length, nothing visible.
    assert len(drawn["lines"]) == 4
    assert all(line.get_marker() not in (None, "", "None") for line in drawn["lines"])


def test_log_ticks_are_round_and_at_least_three():
    assert plots.log_ticks(38, 650) == [50.0, 100.0, 200.0, 500.0]
    assert plots.log_ticks(2.4, 4.6) == [2.5, 3.0, 4.0]  # inside one decade: denser
    assert plots.log_ticks(0.9, 130) == [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0]
