// kws_main.cc: the streaming keyword-spotting loop on TFLite Micro. Part of the ghost-keras
// firmware folder: model_data.h (the model in flash), model_ops.h (its op resolver),
// model_settings.h (every number), kws_frontend.h (audio -> int8 frames), recognize_commands.h.
//
// Per stride of audio: front end -> one int8 feature frame -> model input (a step model takes
// one frame; a window model a sliding window of KWS_FRAMES_PER_INPUT frames) -> recurrent state
// carried over from the previous invoke -> Invoke() -> scores -> recognizer -> detections.
#include "kws_main.h"

#include <string.h>

#include "kws_frontend.h"
#include "model_data.h"
#include "model_ops.h"
#include "model_settings.h"
#include "recognize_commands.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_log.h"
#include "tensorflow/lite/micro/system_setup.h"
#include "tensorflow/lite/schema/schema_generated.h"

// TFLM's library is built with TF_LITE_STATIC_MEMORY, which changes the layout of TfLiteTensor:
// code that reads tensors without it reads tensor->data at the wrong offset and crashes.
#ifndef TF_LITE_STATIC_MEMORY
#error "Compile this folder with -DTF_LITE_STATIC_MEMORY, as TFLM's library is built."
#endif

namespace {

// The arena holds every tensor, kernel scratch buffer and TFLM's bookkeeping. Its size was
// measured on a 32-bit Cortex-M4 plus a margin (see model_settings.h); 16-byte alignment as
// TFLM wants. If AllocateTensors() fails, the log says how many bytes were missing.
alignas(16) uint8_t g_tensor_arena[KWS_TENSOR_ARENA_BYTES];

const char* const kLabels[KWS_NUM_LABELS] = KWS_LABEL_STRINGS;

tflite::MicroInterpreter* g_interpreter = nullptr;
kws::RecognizeCommands* g_recognizer = nullptr;

int16_t g_audio[KWS_STRIDE_SAMPLES];
// The model's feature input, kept here so a window model can slide it frame by frame.
int8_t g_features[KWS_FRAMES_PER_INPUT * KWS_FEATURE_FRAME_SIZE];
int g_frames_seen = 0;
int64_t g_time_ms = 0;  // audio time: strides processed * KWS_STRIDE_MS

#if KWS_NUM_STATES > 0
const int kStateInputs[KWS_NUM_STATES] = KWS_STATE_INPUT_INDICES;
const int kStateOutputs[KWS_NUM_STATES] = KWS_STATE_OUTPUT_INDICES;
const int kStateBytes[KWS_NUM_STATES] = KWS_STATE_BYTES;
// The state between invokes. Copied out right after Invoke() and back in right before the
// next one: TFLM may reuse an input tensor's memory for later tensors within an invoke, so
// neither the input nor the output buffer is a safe place to keep it.
int8_t g_state[KWS_STATE_TOTAL_BYTES];
#endif

bool CheckTensor(const TfLiteTensor* t, int bytes, const char* what) {
  if (t == nullptr || static_cast<int>(t->bytes) != bytes) {
    MicroPrintf("%s: the model does not match model_settings.h", what);
    return false;
  }
  return true;
}

}  // namespace

#if defined(__GNUC__)
#define KWS_WEAK __attribute__((weak))
#else
#define KWS_WEAK
#endif

KWS_WEAK void KwsOnDetection(const char* label, int64_t time_ms, uint8_t score) {
  // Seconds as unsigned long (32 bits: 136 years) and milliseconds: MicroPrintf's printf may
  // lack 64-bit formats.
  MicroPrintf("Heard %s (%d) @%lu.%03us", label, static_cast<int>(score),
              static_cast<unsigned long>(time_ms / 1000), static_cast<unsigned>(time_ms % 1000));
}

KWS_WEAK void KwsBeforeInvoke() {}

KWS_WEAK void KwsAfterInvoke(const KwsInvokeTrace& /*trace*/) {}

bool KwsSetup() {
  tflite::InitializeTarget();

  const tflite::Model* model = tflite::GetModel(KWS_MODEL_DATA);
  if (model->version() != TFLITE_SCHEMA_VERSION) {
    MicroPrintf("Model schema version %d, TFLM supports %d",
                static_cast<int>(model->version()), TFLITE_SCHEMA_VERSION);
    return false;
  }

  // Only the kernels this model uses are linked (model_ops.h).
  static ModelOpResolver resolver;
  if (RegisterModelOps(resolver) != kTfLiteOk) {
    MicroPrintf("Registering the model's ops failed");
    return false;
  }

  static tflite::MicroInterpreter interpreter(model, resolver, g_tensor_arena,
                                              KWS_TENSOR_ARENA_BYTES);
  if (interpreter.AllocateTensors() != kTfLiteOk) {
    MicroPrintf("AllocateTensors() failed: KWS_TENSOR_ARENA_BYTES (%d) too small?",
                KWS_TENSOR_ARENA_BYTES);
    return false;
  }
  g_interpreter = &interpreter;
  MicroPrintf("Tensor arena: %d of %d bytes used",
              static_cast<int>(interpreter.arena_used_bytes()), KWS_TENSOR_ARENA_BYTES);

  // The settings header and the model must agree (they are generated together).
  if (!CheckTensor(interpreter.input(KWS_FEATURE_INPUT_INDEX), KWS_FEATURE_INPUT_SIZE,
                   "feature input") ||
      !CheckTensor(interpreter.output(KWS_SCORES_OUTPUT_INDEX), KWS_NUM_LABELS, "scores")) {
    return false;
  }
#if KWS_NUM_STATES > 0
  for (int s = 0; s < KWS_NUM_STATES; ++s) {
    if (!CheckTensor(interpreter.input(kStateInputs[s]), kStateBytes[s], "state input") ||
        !CheckTensor(interpreter.output(kStateOutputs[s]), kStateBytes[s], "state output")) {
      return false;
    }
  }
  // Start from the real value 0, i.e. each state's zero point (0 for the fixed range
  // [-1, 127/128]).
  {
    const int zero_points[KWS_NUM_STATES] = KWS_STATE_ZERO_POINTS;
    int offset = 0;
    for (int s = 0; s < KWS_NUM_STATES; ++s) {
      memset(g_state + offset, zero_points[s], kStateBytes[s]);
      offset += kStateBytes[s];
    }
  }
#endif

  if (!kws::FrontendInit()) {
    MicroPrintf("Front end init failed");
    return false;
  }
  static kws::RecognizeCommands recognizer;
  g_recognizer = &recognizer;
  // Feature input starts as "silence" (the zero point), like a zero-padded window.
  memset(g_features, KWS_FEATURE_INPUT_ZERO_POINT, sizeof(g_features));
  g_frames_seen = 0;
  g_time_ms = 0;
  return true;
}

bool KwsStep() {
  if (g_interpreter == nullptr) return false;
  if (KwsReadAudio(g_audio, KWS_STRIDE_SAMPLES) != KWS_STRIDE_SAMPLES) return false;
  g_time_ms += KWS_STRIDE_MS;

  int8_t frame[KWS_FEATURE_FRAME_SIZE];
  switch (kws::FrontendProcessStride(g_audio, frame)) {
    case kws::FrontendStatus::kFrame:
      break;
    case kws::FrontendStatus::kFilling:
      return true;  // no frame before the first window is full
    case kws::FrontendStatus::kError:
      MicroPrintf("Front end failed");
      return false;
  }
  // Slide the feature window by one frame and append the new one (a step model's window is
  // the single frame).
  const int keep = (KWS_FRAMES_PER_INPUT - 1) * KWS_FEATURE_FRAME_SIZE;
  memmove(g_features, g_features + KWS_FEATURE_FRAME_SIZE, keep);
  memcpy(g_features + keep, frame, KWS_FEATURE_FRAME_SIZE);
  if (++g_frames_seen % KWS_FRAMES_PER_DECISION != 0) return true;

  memcpy(g_interpreter->input(KWS_FEATURE_INPUT_INDEX)->data.int8, g_features,
         sizeof(g_features));
#if KWS_NUM_STATES > 0
  // The state input and output share scale and zero point (checked at export), so the
  // bytes are copied as they are.
  int offset = 0;
  for (int s = 0; s < KWS_NUM_STATES; ++s) {
    memcpy(g_interpreter->input(kStateInputs[s])->data.int8, g_state + offset, kStateBytes[s]);
    offset += kStateBytes[s];
  }
#endif
  KwsBeforeInvoke();
  if (g_interpreter->Invoke() != kTfLiteOk) {
    MicroPrintf("Invoke failed");
    return false;
  }
#if KWS_NUM_STATES > 0
  offset = 0;
  for (int s = 0; s < KWS_NUM_STATES; ++s) {
    memcpy(g_state + offset, g_interpreter->output(kStateOutputs[s])->data.int8, kStateBytes[s]);
    offset += kStateBytes[s];
  }
#endif

  const TfLiteTensor* scores = g_interpreter->output(KWS_SCORES_OUTPUT_INDEX);
  KwsInvokeTrace trace;
  trace.time_ms = g_time_ms;
  trace.features = g_features;
  trace.feature_bytes = static_cast<int>(sizeof(g_features));
  trace.scores = reinterpret_cast<const int8_t*>(scores->data.raw);
  trace.score_bytes = KWS_NUM_LABELS;
#if KWS_NUM_STATES > 0
  trace.state = g_state;
  trace.state_bytes = KWS_STATE_TOTAL_BYTES;
#else
  trace.state = nullptr;
  trace.state_bytes = 0;
#endif
  KwsAfterInvoke(trace);

  kws::RecognitionResult result;
#if KWS_SCORES_ARE_INT8
  const bool ok = g_recognizer->ProcessLatestResults(scores->data.int8, g_time_ms, &result);
#else
  const bool ok = g_recognizer->ProcessLatestResults(scores->data.uint8, g_time_ms, &result);
#endif
  if (!ok) {
    MicroPrintf("Recognizer rejected the result");
    return false;
  }
  if (result.reported) {
    KwsOnDetection(kLabels[result.label_index], g_time_ms, result.score);
  }
  return true;
}
