// fully_connected_check.cc: proves the folder's int8 FULLY_CONNECTED kernel
// (kws_fully_connected.cc) gives the bytes of TFLM's own kernel (reference on the host,
// CMSIS-NN on a Cortex-M4) over random shapes, values and quantizations: row and column counts
// around the four-row and four-column blocks and the step models' sizes, one and two batches,
// per-tensor and per-channel weights, with and without bias, no activation and RELU. Built with
// the folder's Makefile (APP_SRCS) and run by the tests; prints one line per failing case and a
// summary, exits 1 on any mismatch.
#include <cstdint>
#include <cstdio>

#include "check_random.h"
#include "kws_fully_connected.h"
#include "tensorflow/lite/c/builtin_op_data.h"
#include "tensorflow/lite/micro/kernels/kernel_runner.h"
#include "tensorflow/lite/micro/kernels/micro_ops.h"
#include "tensorflow/lite/micro/test_helpers.h"

namespace {

constexpr int kMaxRows = 320;
constexpr int kMaxCols = 160;
constexpr int kMaxBatches = 2;

kws_check::Random rng(12345u);

struct Case {
  int rows, cols, batches;
  bool per_channel, has_bias, relu;
  float input_scale, output_scale;
  int input_zero_point, output_zero_point;
};

int8_t input[kMaxBatches * kMaxCols];
int8_t weights[kMaxRows * kMaxCols];
int32_t bias[kMaxRows];
float channel_scales[kMaxRows + 1];
int channel_zero_points[kMaxRows + 1];

// Runs `registration` on the case's tensors; false if it fails to prepare or invoke.
bool Run(const TFLMRegistration& registration, const Case& c, float weight_scale,
         int8_t* output) {
  int input_dims_data[] = {2, c.batches, c.cols};
  int weight_dims_data[] = {2, c.rows, c.cols};
  int bias_dims_data[] = {1, c.rows};
  int output_dims_data[] = {2, c.batches, c.rows};
  TfLiteIntArray* input_dims = tflite::testing::IntArrayFromInts(input_dims_data);
  TfLiteIntArray* weight_dims = tflite::testing::IntArrayFromInts(weight_dims_data);
  TfLiteIntArray* bias_dims = tflite::testing::IntArrayFromInts(bias_dims_data);
  TfLiteIntArray* output_dims = tflite::testing::IntArrayFromInts(output_dims_data);

  TfLiteTensor weight_tensor;
  TfLiteAffineQuantization quant;
  if (c.per_channel) {
    // FloatArrayFromFloats/IntArrayFromInts rewrite element 0 as the length: refill it.
    channel_scales[0] = static_cast<float>(c.rows);
    channel_zero_points[0] = c.rows;
    weight_tensor = tflite::testing::CreatePerChannelQuantizedTensor(
        weights, weight_dims, tflite::testing::FloatArrayFromFloats(channel_scales),
        tflite::testing::IntArrayFromInts(channel_zero_points), &quant, 0);
  } else {
    weight_tensor = tflite::testing::CreateQuantizedTensor(weights, weight_dims, weight_scale, 0);
  }
  TfLiteTensor tensors[4] = {
      tflite::testing::CreateQuantizedTensor(input, input_dims, c.input_scale,
                                             c.input_zero_point),
      weight_tensor,
      tflite::testing::CreateQuantizedTensor(bias, bias_dims, c.input_scale * weight_scale, 0),
      tflite::testing::CreateQuantizedTensor(output, output_dims, c.output_scale,
                                             c.output_zero_point),
  };
  int inputs_with_bias[] = {3, 0, 1, 2};
  int inputs_without_bias[] = {3, 0, 1, -1};
  int outputs_data[] = {1, 3};
  TfLiteFullyConnectedParams params = {};
  params.activation = c.relu ? kTfLiteActRelu : kTfLiteActNone;
  params.weights_format = kTfLiteFullyConnectedWeightsFormatDefault;
  tflite::micro::KernelRunner runner(
      registration, tensors, 4,
      tflite::testing::IntArrayFromInts(c.has_bias ? inputs_with_bias : inputs_without_bias),
      tflite::testing::IntArrayFromInts(outputs_data), &params);
  return runner.InitAndPrepare() == kTfLiteOk && runner.Invoke() == kTfLiteOk;
}

}  // namespace

int main() {
  // Around the blocks (1-9 rows or columns) and the step models' sizes.
  const int rows_choices[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 77, 125, 154, 231, 308};
  const int cols_choices[] = {1, 2, 3, 4, 5, 7, 8, 9, 40, 77, 117, 125, 154, 157};
  constexpr int kCases = 300;
  int failed = 0;
  long values = 0;
  static int8_t want[kMaxBatches * kMaxRows], got[kMaxBatches * kMaxRows];
  for (int i = 0; i < kCases; ++i) {
    Case c;
    c.rows = rows_choices[rng.Next() % (sizeof(rows_choices) / sizeof(int))];
    c.cols = cols_choices[rng.Next() % (sizeof(cols_choices) / sizeof(int))];
    c.batches = rng.Uniform(1, kMaxBatches);
    // One channel is per-tensor quantization to TFLM (it then checks the bias scale).
    c.per_channel = rng.Next() % 2 && c.rows > 1;
    c.has_bias = rng.Next() % 4 != 0;
    c.relu = rng.Next() % 4 == 0;
    c.input_scale = rng.LogUniform(1e-3f, 1.0f);
    c.output_scale = rng.LogUniform(1e-3f, 1.0f);
    // The extremes of the zero points every few cases: -128 makes the input offset +128.
    c.input_zero_point = i % 7 == 0 ? -128 : i % 7 == 1 ? 127 : rng.Uniform(-128, 127);
    c.output_zero_point = rng.Uniform(-128, 127);
    const float weight_scale = rng.LogUniform(1e-3f, 0.1f);
    for (int k = 0; k < c.batches * c.cols; ++k) input[k] = static_cast<int8_t>(rng.Uniform(-128, 127));
    for (int k = 0; k < c.rows * c.cols; ++k) weights[k] = static_cast<int8_t>(rng.Uniform(-127, 127));
    for (int k = 0; k < c.rows; ++k) {
      bias[k] = rng.Uniform(-40000, 40000);
      channel_scales[k + 1] = weight_scale * rng.LogUniform(0.25f, 4.0f);
      channel_zero_points[k + 1] = 0;
    }
    const bool tflm_ok = Run(tflite::Register_FULLY_CONNECTED(), c, weight_scale, want);
    if (!tflm_ok || !Run(kws::Register_FULLY_CONNECTED_INT8(), c, weight_scale, got)) {
      printf("case %d (%d rows x %d cols): %s kernel failed\n", i, c.rows, c.cols,
             tflm_ok ? "the folder's" : "TFLM's");
      ++failed;
      continue;
    }
    int mismatches = 0;
    for (int k = 0; k < c.batches * c.rows; ++k) mismatches += want[k] != got[k];
    values += c.batches * c.rows;
    if (mismatches != 0) {
      printf("case %d: %d rows x %d cols, %d batches, %s, bias %d, relu %d, input zero point %d: "
             "%d of %d outputs differ\n",
             i, c.rows, c.cols, c.batches, c.per_channel ? "per channel" : "per tensor",
             c.has_bias, c.relu, c.input_zero_point, mismatches, c.batches * c.rows);
      ++failed;
    }
  }
  printf("cases %d outputs %ld failed %d\n", kCases, values, failed);
  return failed == 0 ? 0 : 1;
}
