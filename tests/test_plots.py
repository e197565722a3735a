"""Run plots: what a learning-curve figure draws."""

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
