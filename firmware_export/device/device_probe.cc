// device_probe.cc: measures, on the target it runs on, the smallest tensor arena in which the
// folder's model allocates and invokes (bisected: TFLM's arena_used_bytes() reports less than
// what works) and, on a Cortex-M, the heap the front end takes at setup. Built with the folder's
// Makefile by firmware_export.device; prints "key value" lines.
#include <stdint.h>
#include <stdio.h>

#include <new>

#include "kws_frontend.h"
#include "model_data.h"
#include "model_ops.h"
#include "model_settings.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/schema/schema_generated.h"

#if defined(__arm__)
#include <malloc.h>
#endif

namespace {

constexpr int kMaxArenaBytes = 512 * 1024;
alignas(16) uint8_t g_arena[kMaxArenaBytes];
alignas(tflite::MicroInterpreter) uint8_t g_storage[sizeof(tflite::MicroInterpreter)];

bool AllocatesAndInvokes(const tflite::Model* model, ModelOpResolver& resolver, int bytes) {
  auto* interpreter = new (g_storage) tflite::MicroInterpreter(model, resolver, g_arena, bytes);
  bool ok = interpreter->AllocateTensors() == kTfLiteOk;
  if (ok) {
    // Inputs at their zero points (real 0), as after KwsSetup().
    for (size_t i = 0; i < interpreter->inputs_size(); ++i) {
      TfLiteTensor* t = interpreter->input(i);
      for (size_t b = 0; b < t->bytes; ++b) t->data.int8[b] = static_cast<int8_t>(t->params.zero_point);
    }
    ok = interpreter->Invoke() == kTfLiteOk;
  }
  interpreter->~MicroInterpreter();
  return ok;
}

}  // namespace

int main() {
  const tflite::Model* model = tflite::GetModel(KWS_MODEL_DATA);
  static ModelOpResolver resolver;
  if (RegisterModelOps(resolver) != kTfLiteOk) return 1;
  if (!AllocatesAndInvokes(model, resolver, kMaxArenaBytes)) {
    printf("error the model needs more than %d bytes of arena\n", kMaxArenaBytes);
    return 1;
  }
  int works = kMaxArenaBytes, fails = 0;  // in units of 16 bytes below
  while (works - fails > 16) {
    const int mid = (works + fails) / 32 * 16;
    if (AllocatesAndInvokes(model, resolver, mid)) {
      works = mid;
    } else {
      fails = mid;
    }
  }
  printf("arena_bytes %d\n", works);
#if defined(__arm__)
  const int before = static_cast<int>(mallinfo().uordblks);
  if (!kws::FrontendInit()) return 1;
  const struct mallinfo after = mallinfo();
  printf("frontend_heap_in_use_bytes %d\n", static_cast<int>(after.uordblks) - before);
  printf("heap_arena_bytes %d\n", static_cast<int>(after.arena));
#endif
  return 0;
}
