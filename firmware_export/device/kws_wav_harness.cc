// kws_wav_harness.cc: runs a ghost-keras firmware folder on a 16 kHz mono 16-bit WAV, the way a
// board would (KwsSetup(), then KwsStep() per 320-sample stride), and records what it computed.
// Built by firmware_export.device for the host and for a Cortex-M4 under QEMU (semihosting
// gives the M4 its command line and files). Not part of the firmware folder.
//
//   kws_wav_harness AUDIO.wav TRACE.bin DETECTIONS.txt PROFILE.txt
//
// TRACE.bin: per Invoke(), int64 time_ms then the feature input, scores and new state bytes.
// DETECTIONS.txt: "time_ms label score" per detection. PROFILE.txt: setup figures and, on the
// M4, SysTick ticks per Invoke() and per stride (m4_ticks.h).
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kws_main.h"
#include "model_settings.h"
#include "tensorflow/lite/micro/micro_log.h"

#if defined(__arm__)
#include <malloc.h>

#include "m4_ticks.h"
#define KWS_HARNESS_TICKS 1
#endif

namespace {

FILE* g_wav = nullptr;
FILE* g_trace = nullptr;
FILE* g_detections = nullptr;
FILE* g_profile = nullptr;
long g_data_left = 0;  // bytes of PCM left in the WAV's data chunk

bool Fail(const char* what) {
  fprintf(stderr, "kws_wav_harness: %s\n", what);
  return false;
}

uint32_t ReadLe(const uint8_t* p, int bytes) {
  uint32_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Positions g_wav at the PCM data; accepts only what the firmware takes (PCM, mono, 16 bits,
// KWS_SAMPLE_RATE_HZ) and assumes a little-endian target, as TFLM does.
bool OpenWav(const char* path) {
  g_wav = fopen(path, "rb");
  if (g_wav == nullptr) return Fail("cannot open the WAV file");
  uint8_t riff[12];
  if (fread(riff, 1, 12, g_wav) != 12 || memcmp(riff, "RIFF", 4) || memcmp(riff + 8, "WAVE", 4)) {
    return Fail("not a RIFF/WAVE file");
  }
  bool format_ok = false;
  for (;;) {
    uint8_t chunk[8];
    if (fread(chunk, 1, 8, g_wav) != 8) return Fail("no data chunk");
    const uint32_t size = ReadLe(chunk + 4, 4);
    if (!memcmp(chunk, "fmt ", 4)) {
      uint8_t fmt[16];
      if (size < 16 || fread(fmt, 1, 16, g_wav) != 16) return Fail("short fmt chunk");
      format_ok = ReadLe(fmt, 2) == 1 && ReadLe(fmt + 2, 2) == 1 &&
                  ReadLe(fmt + 4, 4) == KWS_SAMPLE_RATE_HZ && ReadLe(fmt + 14, 2) == 16;
      if (fseek(g_wav, static_cast<long>(size - 16 + (size & 1)), SEEK_CUR)) return Fail("seek");
    } else if (!memcmp(chunk, "data", 4)) {
      if (!format_ok) return Fail("the WAV must be PCM, mono, 16-bit at KWS_SAMPLE_RATE_HZ");
      g_data_left = static_cast<long>(size);
      return true;
    } else if (fseek(g_wav, static_cast<long>(size + (size & 1)), SEEK_CUR)) {
      return Fail("seek");
    }
  }
}

#if KWS_HARNESS_TICKS
using kws_device::Elapsed;
using kws_device::kTickMask;
using kws_device::Ticks;

uint32_t g_invoke_start = 0;
uint32_t g_hook_ticks = 0;  // spent in KwsAfterInvoke's recording, not in the firmware
#endif

}  // namespace

int KwsReadAudio(int16_t* samples, int count) {
  const long want = static_cast<long>(count) * 2;
  if (g_data_left < want) return 0;  // the last partial stride is dropped, as in Python
  const size_t got = fread(samples, 2, static_cast<size_t>(count), g_wav);
  g_data_left -= static_cast<long>(got) * 2;
  return static_cast<int>(got);
}

void KwsOnDetection(const char* label, int64_t time_ms, uint8_t score) {
  fprintf(g_detections, "%lld %s %u\n", static_cast<long long>(time_ms), label,
          static_cast<unsigned>(score));
}

void KwsBeforeInvoke() {
#if KWS_HARNESS_TICKS
  g_invoke_start = Ticks();
#endif
}

void KwsAfterInvoke(const KwsInvokeTrace& trace) {
#if KWS_HARNESS_TICKS
  const uint32_t hook_start = Ticks();
  fprintf(g_profile, "invoke %lu\n",
          static_cast<unsigned long>((g_invoke_start - hook_start) & kTickMask));
#endif
  fwrite(&trace.time_ms, sizeof(trace.time_ms), 1, g_trace);
  fwrite(trace.features, 1, static_cast<size_t>(trace.feature_bytes), g_trace);
  fwrite(trace.scores, 1, static_cast<size_t>(trace.score_bytes), g_trace);
  if (trace.state_bytes > 0) {
    fwrite(trace.state, 1, static_cast<size_t>(trace.state_bytes), g_trace);
  }
#if KWS_HARNESS_TICKS
  g_hook_ticks += Elapsed(hook_start);
#endif
}

static void LogToStderr(const char* s) { fputs(s, stderr); }

// cortex_m_generic's MicroPrintf prints nothing until a callback is registered (a tree with
// the portable debug_log.cc, e.g. the reference kernels built for the M4, prints to stderr).
#if __has_include("tensorflow/lite/micro/cortex_m_generic/debug_log_callback.h")
#include "tensorflow/lite/micro/cortex_m_generic/debug_log_callback.h"
#define KWS_HARNESS_LOG_CALLBACK 1
#endif

int main(int argc, char** argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s AUDIO.wav TRACE.bin DETECTIONS.txt PROFILE.txt\n", argv[0]);
    return 2;
  }
#if KWS_HARNESS_LOG_CALLBACK
  RegisterDebugLogCallback(LogToStderr);
#else
  (void)LogToStderr;
#endif
  if (!OpenWav(argv[1])) return 1;
  g_trace = fopen(argv[2], "wb");
  g_detections = fopen(argv[3], "w");
  g_profile = fopen(argv[4], "w");
  if (g_trace == nullptr || g_detections == nullptr || g_profile == nullptr) {
    Fail("cannot open an output file");
    return 1;
  }
#if KWS_HARNESS_TICKS
  kws_device::StartTicks();
  fprintf(g_profile, "calibration_instructions %lu\n",
          static_cast<unsigned long>(kws_device::kCalibrationInstructions));
  fprintf(g_profile, "calibration_ticks %lu\n",
          static_cast<unsigned long>(kws_device::CalibrationTicks()));
#endif
  if (!KwsSetup()) {
    Fail("KwsSetup() failed");
    return 1;
  }
#if defined(__arm__)
  const struct mallinfo heap = mallinfo();
  fprintf(g_profile, "heap_arena_bytes %lu\n", static_cast<unsigned long>(heap.arena));
  fprintf(g_profile, "heap_in_use_bytes %lu\n", static_cast<unsigned long>(heap.uordblks));
#endif
  for (;;) {
#if KWS_HARNESS_TICKS
    g_hook_ticks = 0;
    const uint32_t start = Ticks();
#endif
    if (!KwsStep()) break;
#if KWS_HARNESS_TICKS
    const uint32_t stride = Elapsed(start) - g_hook_ticks;
    fprintf(g_profile, "stride %lu\n", static_cast<unsigned long>(stride));
#endif
  }
  const bool audio_done = g_data_left < static_cast<long>(KWS_STRIDE_SAMPLES) * 2;
  fclose(g_trace);
  fclose(g_detections);
  fclose(g_profile);
  fclose(g_wav);
  if (!audio_done) {
    Fail("KwsStep() failed before the end of the audio");
    return 1;
  }
  return 0;
}
