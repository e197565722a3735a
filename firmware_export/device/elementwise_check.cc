// elementwise_check.cc: proves the folder's int8 ADD, SUB and MUL kernels (kws_elementwise.cc)
// give the bytes of TFLM's own kernels (reference on the host, CMSIS-NN's ADD and MUL on a
// Cortex-M4) over random values, sizes and quantizations, with and without RELU. Built with the
// folder's Makefile (APP_SRCS) and run by the tests; prints one line per failing case and a
// summary, exits 1 on any mismatch.
#include <cstdint>
#include <cstdio>

#include "check_random.h"
#include "kws_elementwise.h"
#include "tensorflow/lite/c/builtin_op_data.h"
#include "tensorflow/lite/micro/kernels/kernel_runner.h"
#include "tensorflow/lite/micro/kernels/micro_ops.h"
#include "tensorflow/lite/micro/test_helpers.h"

namespace {

constexpr int kMaxSize = 320;

kws_check::Random rng(2024u);

struct Case {
  int size;
  float scales[3];
  int zero_points[3];
  bool relu;
};

int8_t in1[kMaxSize], in2[kMaxSize];

bool Run(const TFLMRegistration& registration, const Case& c, const void* params,
         int8_t* output) {
  int dims_data[] = {2, 1, c.size};
  TfLiteIntArray* dims = tflite::testing::IntArrayFromInts(dims_data);
  TfLiteTensor tensors[3] = {
      tflite::testing::CreateQuantizedTensor(in1, dims, c.scales[0], c.zero_points[0]),
      tflite::testing::CreateQuantizedTensor(in2, dims, c.scales[1], c.zero_points[1]),
      tflite::testing::CreateQuantizedTensor(output, dims, c.scales[2], c.zero_points[2]),
  };
  int inputs_data[] = {2, 0, 1};
  int outputs_data[] = {1, 2};
  tflite::micro::KernelRunner runner(registration, tensors, 3,
                                     tflite::testing::IntArrayFromInts(inputs_data),
                                     tflite::testing::IntArrayFromInts(outputs_data), params);
  return runner.InitAndPrepare() == kTfLiteOk && runner.Invoke() == kTfLiteOk;
}

}  // namespace

int main() {
  const char* names[] = {"ADD", "SUB", "MUL"};
  constexpr int kCasesPerOp = 200;
  int failed = 0;
  long values = 0;
  static int8_t want[kMaxSize], got[kMaxSize];
  for (int op = 0; op < 3; ++op) {
    for (int i = 0; i < kCasesPerOp; ++i) {
      Case c;
      c.size = i < 8 ? i + 1 : rng.Uniform(1, kMaxSize);
      for (int t = 0; t < 3; ++t) {
        c.scales[t] = rng.LogUniform(1e-3f, 0.5f);
        c.zero_points[t] = rng.Uniform(-128, 127);
      }
      // Inputs of one scale (a cell's gate products often share it) every few cases.
      if (i % 5 == 0) c.scales[1] = c.scales[0];
      c.relu = rng.Next() % 4 == 0;
      for (int k = 0; k < c.size; ++k) {
        in1[k] = static_cast<int8_t>(rng.Uniform(-128, 127));
        in2[k] = static_cast<int8_t>(rng.Uniform(-128, 127));
      }
      const TfLiteFusedActivation activation = c.relu ? kTfLiteActRelu : kTfLiteActNone;
      TfLiteAddParams add_params = {};
      add_params.activation = activation;
      TfLiteSubParams sub_params = {};
      sub_params.activation = activation;
      TfLiteMulParams mul_params = {};
      mul_params.activation = activation;
      bool ok;
      if (op == 0) {
        ok = Run(tflite::Register_ADD(), c, &add_params, want) &&
             Run(kws::Register_ADD_INT8(), c, &add_params, got);
      } else if (op == 1) {
        ok = Run(tflite::Register_SUB(), c, &sub_params, want) &&
             Run(kws::Register_SUB_INT8(), c, &sub_params, got);
      } else {
        ok = Run(tflite::Register_MUL(), c, &mul_params, want) &&
             Run(kws::Register_MUL_INT8(), c, &mul_params, got);
      }
      if (!ok) {
        printf("%s case %d: a kernel failed\n", names[op], i);
        ++failed;
        continue;
      }
      int mismatches = 0;
      for (int k = 0; k < c.size; ++k) mismatches += want[k] != got[k];
      values += c.size;
      if (mismatches != 0) {
        printf("%s case %d: size %d, scales %g %g %g, zero points %d %d %d, relu %d: %d differ\n",
               names[op], i, c.size, c.scales[0], c.scales[1], c.scales[2], c.zero_points[0],
               c.zero_points[1], c.zero_points[2], c.relu, mismatches);
        ++failed;
      }
    }
  }
  printf("cases %d outputs %ld failed %d\n", 3 * kCasesPerOp, values, failed);
  return failed == 0 ? 0 : 1;
}
