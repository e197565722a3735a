// device_probe.cc: measures, on the target it runs on, the smallest tensor arena in which the
// folder's model allocates and invokes (bisected: TFLM's arena_used_bytes() reports less than
// what works) and, on a Cortex-M4 under QEMU, the heap the front end takes at setup and the
// instructions each operator of one Invoke() executes. Built with the folder's Makefile by
// firmware_export.device; prints "key value" lines.
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

#include "m4_ticks.h"
#include "tensorflow/lite/micro/micro_profiler_interface.h"
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

#if defined(__arm__)
// Per-operator instruction counts of the invokes it watches (TFLM calls it around each op).
class TickProfiler : public tflite::MicroProfilerInterface {
 public:
  static constexpr int kMaxEvents = 128;
  uint32_t BeginEvent(const char* tag) override {
    if (count_ >= kMaxEvents) return kMaxEvents;
    tags_[count_] = tag;
    start_[count_] = kws_device::Ticks();
    return count_++;
  }
  void EndEvent(uint32_t handle) override {
    if (handle < kMaxEvents) ticks_[handle] = kws_device::Elapsed(start_[handle]);
  }
  void Reset() { count_ = 0; }
  void Print(uint32_t calibration_ticks) const {
    for (int i = 0; i < count_; ++i) {
      const unsigned long long instructions =
          static_cast<unsigned long long>(ticks_[i]) * kws_device::kCalibrationInstructions /
          calibration_ticks;
      printf("op_instructions_%d_%s %llu\n", i, tags_[i], instructions);
    }
  }

 private:
  const char* tags_[kMaxEvents];
  uint32_t start_[kMaxEvents];
  uint32_t ticks_[kMaxEvents];
  int count_ = 0;
};

// One Invoke() at the working arena size with the profiler attached; prints its operators.
void PrintOperatorInstructions(const tflite::Model* model, ModelOpResolver& resolver,
                               int arena_bytes) {
  static TickProfiler profiler;
  kws_device::StartTicks();
  const uint32_t calibration = kws_device::CalibrationTicks();
  auto* interpreter = new (g_storage) tflite::MicroInterpreter(
      model, resolver, g_arena, arena_bytes, nullptr, &profiler);
  if (interpreter->AllocateTensors() == kTfLiteOk) {
    interpreter->Invoke();  // warm: the first invoke may initialise kernel state
    profiler.Reset();
    interpreter->Invoke();
    profiler.Print(calibration);
  }
  interpreter->~MicroInterpreter();
}
#endif

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
  PrintOperatorInstructions(model, resolver, works);
  const int before = static_cast<int>(mallinfo().uordblks);
  if (!kws::FrontendInit()) return 1;
  const struct mallinfo after = mallinfo();
  printf("frontend_heap_in_use_bytes %d\n", static_cast<int>(after.uordblks) - before);
  printf("heap_arena_bytes %d\n", static_cast<int>(after.arena));
#endif
  return 0;
}
