"""Knowledge distillation: a small student trained on the labels and on a larger trained
teacher's softened outputs (Hinton, Vinyals and Dean, 2015).

With little data a large model (GRU-L, DS-CNN-M) generalises better than a small one; its
output distribution over the 12 labels also says which wrong answers are near misses ("off"
sounds like "up"), which a one-hot label does not. The student's loss per batch is

    (1 - alpha) * CE(y, student) + alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T))

on the same augmented batch for both (the teacher in inference mode, never updated). ``T^2``
keeps the soft term's gradients the size of the hard term's as ``T`` grows. The teacher must
read the same features and answer with the same labels. Only the student is kept: the run's
``model.keras`` is a plain model, exported and deployed like any other.

Example:

>>> distiller = Distiller(student, teacher, alpha=0.5, temperature=4.0)  # doctest: +SKIP
>>> distiller.compile(optimizer, loss=make_loss(), metrics=["accuracy"])  # doctest: +SKIP
>>> distiller.fit(train, validation_data=val)                             # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tf_keras as keras


class Distiller(keras.Model):
    """Trains ``student`` on hard labels and ``teacher``'s softened outputs.

    Args:
        student: the model being trained (logits out); ``call`` and evaluation are its own.
        teacher: a trained model with the same input and labels (logits out); frozen.
        alpha: weight of the soft term, in [0, 1] (0: plain training on the labels).
        temperature: ``T`` > 0 of both softmaxes in the soft term.
    """

    def __init__(self, student: keras.Model, teacher: keras.Model, alpha: float = 0.5,
                 temperature: float = 4.0, **kwargs: Any):
        super().__init__(**kwargs)
        if not 0.0 <= alpha <= 1.0 or not temperature > 0:
            raise ValueError(f"distillation needs 0 <= alpha <= 1 (got {alpha}) and "
                             f"temperature > 0 (got {temperature}).")
        if tuple(student.output_shape) != tuple(teacher.output_shape):
            raise ValueError(f"the teacher answers {teacher.output_shape}, the student "
                             f"{student.output_shape}: they need the same labels.")
        self.student, self.teacher = student, teacher
        self.teacher.trainable = False
        self.alpha, self.temperature = float(alpha), float(temperature)
        self._kl = keras.losses.KLDivergence()

    def call(self, inputs: tf.Tensor, training: Any = None) -> tf.Tensor:
        return self.student(inputs, training=training)

    def train_step(self, data: Any) -> dict[str, tf.Tensor]:
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        soft_targets = tf.nn.softmax(self.teacher(x, training=False) / self.temperature)
        with tf.GradientTape() as tape:
            logits = self.student(x, training=True)
            hard = self.compiled_loss(y, logits, sample_weight,
                                      regularization_losses=self.student.losses)
            soft = self._kl(soft_targets, tf.nn.softmax(logits / self.temperature),
                            sample_weight)
            loss = ((1.0 - self.alpha) * hard
                    + self.alpha * self.temperature ** 2 * soft)
        variables = self.student.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        self.compiled_metrics.update_state(y, logits, sample_weight)
        return {**{m.name: m.result() for m in self.metrics}, "loss": loss}


class BestStudentCheckpoint(keras.callbacks.ModelCheckpoint):
    """``ModelCheckpoint`` of the student inside a :class:`Distiller`: the best epoch's student
    is saved as a plain model (the file loads without this module)."""

    def __init__(self, student: keras.Model, filepath: str, **kwargs: Any):
        super().__init__(filepath, **kwargs)
        self._student = student

    def set_model(self, model: keras.Model) -> None:
        super().set_model(self._student)
