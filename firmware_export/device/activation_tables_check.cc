// activation_tables_check.cc: proves the folder's int8 LOGISTIC/TANH/SOFTMAX table kernels
// (kws_activation_tables.cc) give TFLM's own kernels' bytes: LOGISTIC/TANH for every int8 input
// over a sweep of input scales and zero points; SOFTMAX on random rows of 2 to 40 scores (the
// classifier's 12 among them) over the same sweep. Built with the folder's Makefile (APP_SRCS)
// and run by the tests; prints one line per mismatch and a summary, exits 1 on any mismatch.
#include <cmath>
#include <cstdint>
#include <cstdio>

#include "kws_activation_tables.h"
#include "tensorflow/lite/c/builtin_op_data.h"
#include "tensorflow/lite/micro/kernels/kernel_runner.h"
#include "tensorflow/lite/micro/kernels/micro_ops.h"
#include "tensorflow/lite/micro/test_helpers.h"

namespace {

constexpr int kValues = kws::kActivationTableBytes;

// Runs `registration` on all 256 int8 values; false if it fails to prepare or invoke.
bool Run(const TFLMRegistration& registration, float input_scale, int input_zero_point,
         float output_scale, int output_zero_point, int8_t* output) {
  static int8_t input[kValues];
  for (int i = 0; i < kValues; ++i) input[i] = static_cast<int8_t>(i - 128);
  int dims_data[] = {1, kValues};
  TfLiteIntArray* dims = tflite::testing::IntArrayFromInts(dims_data);
  TfLiteTensor tensors[2] = {
      tflite::testing::CreateQuantizedTensor(input, dims, input_scale, input_zero_point),
      tflite::testing::CreateQuantizedTensor(output, dims, output_scale, output_zero_point),
  };
  int inputs_data[] = {1, 0};
  int outputs_data[] = {1, 1};
  tflite::micro::KernelRunner runner(registration, tensors, 2,
                                     tflite::testing::IntArrayFromInts(inputs_data),
                                     tflite::testing::IntArrayFromInts(outputs_data), nullptr);
  return runner.InitAndPrepare() == kTfLiteOk && runner.Invoke() == kTfLiteOk;
}

// Compares the two kernels of one op at one input quantization; returns the mismatches.
int Compare(const char* op, const TFLMRegistration& tflm, const TFLMRegistration& table,
            float input_scale, int input_zero_point, float output_scale,
            int output_zero_point) {
  int8_t want[kValues], got[kValues];
  if (!Run(tflm, input_scale, input_zero_point, output_scale, output_zero_point, want) ||
      !Run(table, input_scale, input_zero_point, output_scale, output_zero_point, got)) {
    printf("%s scale %.9g zero point %d: a kernel failed\n", op, input_scale, input_zero_point);
    return kValues;
  }
  int mismatches = 0;
  for (int i = 0; i < kValues; ++i) {
    if (want[i] != got[i]) {
      if (mismatches++ < 3) {
        printf("%s scale %.9g zero point %d input %d: TFLM %d table %d\n", op, input_scale,
               input_zero_point, i - 128, want[i], got[i]);
      }
    }
  }
  return mismatches;
}

// SOFTMAX on `rows` rows of `depth` random int8 scores; returns the outputs that differ.
uint32_t state = 7u;
int SoftmaxMismatches(float input_scale, int input_zero_point, int rows, int depth) {
  static int8_t input[kValues], want[kValues], got[kValues];
  for (int i = 0; i < rows * depth; ++i) {
    state = state * 1664525u + 1013904223u;
    input[i] = static_cast<int8_t>(static_cast<int>(state >> 24) - 128);
  }
  int dims_data[] = {2, rows, depth};
  TfLiteIntArray* dims = tflite::testing::IntArrayFromInts(dims_data);
  TfLiteSoftmaxParams params = {1.0f};
  int inputs_data[] = {1, 0};
  int outputs_data[] = {1, 1};
  bool ok = true;
  for (int k = 0; k < 2; ++k) {
    int8_t* output = k == 0 ? want : got;
    TfLiteTensor tensors[2] = {
        tflite::testing::CreateQuantizedTensor(input, dims, input_scale, input_zero_point),
        tflite::testing::CreateQuantizedTensor(output, dims, 1.0f / 256.0f, -128),
    };
    tflite::micro::KernelRunner runner(
        k == 0 ? tflite::Register_SOFTMAX() : kws::Register_SOFTMAX_INT8_TABLE(), tensors, 2,
        tflite::testing::IntArrayFromInts(inputs_data),
        tflite::testing::IntArrayFromInts(outputs_data), &params);
    ok = ok && runner.InitAndPrepare() == kTfLiteOk && runner.Invoke() == kTfLiteOk;
  }
  if (!ok) {
    printf("SOFTMAX scale %.9g zero point %d: a kernel failed\n", input_scale, input_zero_point);
    return rows * depth;
  }
  int mismatches = 0;
  for (int i = 0; i < rows * depth; ++i) mismatches += want[i] != got[i];
  if (mismatches != 0) {
    printf("SOFTMAX scale %.9g zero point %d depth %d: %d outputs differ\n", input_scale,
           input_zero_point, depth, mismatches);
  }
  return mismatches;
}

}  // namespace

int main() {
  // Input scales from 1/1024 to 1 (geometric, 61 steps) with zero points across the range: the
  // pre-activations of the exported models are capped at +-8 (scale 16/255) and are wider or
  // narrower when learned.
  const int zero_points[] = {-128, -77, -9, -1, 0, 1, 13, 64, 127};
  int cases = 0, mismatches = 0;
  for (int step = 0; step <= 60; ++step) {
    const float scale = static_cast<float>(std::pow(2.0, -10.0 + step / 6.0));
    for (int zero_point : zero_points) {
      mismatches += Compare("LOGISTIC", tflite::Register_LOGISTIC(),
                            kws::Register_LOGISTIC_INT8_TABLE(), scale, zero_point,
                            1.0f / 256.0f, -128);
      mismatches += Compare("TANH", tflite::Register_TANH(), kws::Register_TANH_INT8_TABLE(),
                            scale, zero_point, 1.0f / 128.0f, 0);
      cases += 2;
    }
  }
  // The ranges the cells use: a [-8, 8] pre-activation, and a converter-rounded one.
  mismatches += Compare("LOGISTIC", tflite::Register_LOGISTIC(),
                        kws::Register_LOGISTIC_INT8_TABLE(), 16.0f / 255.0f, 0, 1.0f / 256.0f,
                        -128);
  mismatches += Compare("TANH", tflite::Register_TANH(), kws::Register_TANH_INT8_TABLE(),
                        0.0627451f, -1, 1.0f / 128.0f, 0);
  cases += 2;
  printf("cases %d values %d mismatches %d\n", cases, cases * kValues, mismatches);
  // SOFTMAX: the same scale sweep, 2 to 40 scores per row, rows filling the 256 values.
  const int depths[] = {2, 3, 12, 12, 35, 40};
  int softmax_cases = 0, softmax_values = 0, softmax_mismatches = 0;
  for (int step = 0; step <= 60; ++step) {
    const float scale = static_cast<float>(std::pow(2.0, -10.0 + step / 6.0));
    for (int depth : depths) {
      const int zero_point = zero_points[(step + depth) % 9];
      softmax_mismatches += SoftmaxMismatches(scale, zero_point, kValues / depth, depth);
      softmax_values += (kValues / depth) * depth;
      ++softmax_cases;
    }
  }
  printf("softmax cases %d values %d mismatches %d\n", softmax_cases, softmax_values,
         softmax_mismatches);
  return mismatches == 0 && softmax_mismatches == 0 ? 0 : 1;
}
