// frontend_cmsis_mfcc.cc: kws_frontend.h on CMSIS-DSP's arm_mfcc_q15. Part of the ghost-keras
// firmware folder. Needs CMSIS-DSP (TransformFunctions + their dependencies) and the generated
// frontend_tables.h/.c (window, mel filters, DCT matrix from the Python front end).
#include <string.h>

#include "arm_math.h"
#include "frontend_tables.h"
#include "kws_frontend.h"

#if KWS_FRONTEND_KIND != KWS_FRONTEND_CMSIS_MFCC_Q15
#error "model_settings.h was generated for another front end"
#endif

namespace kws {

namespace {
arm_mfcc_instance_q15 g_mfcc;
// The last KWS_WINDOW_SAMPLES samples: each stride shifts in KWS_STRIDE_SAMPLES new ones.
int16_t g_window[KWS_WINDOW_SAMPLES];
int g_filled = 0;
q15_t g_fft_input[KWS_FFT_LENGTH];  // arm_mfcc_q15 overwrites its input
q31_t g_scratch[2 * KWS_FFT_LENGTH];
q15_t g_mfcc_out[KWS_NUM_MFCC];
}  // namespace

bool FrontendInit() {
  g_filled = 0;
  return arm_mfcc_init_q15(&g_mfcc, KWS_FFT_LENGTH, KWS_NUM_CHANNELS, KWS_NUM_MFCC,
                           kws_dct_coefs, kws_filter_pos, kws_filter_lengths,
                           kws_filter_coefs, kws_window_coefs) == ARM_MATH_SUCCESS;
}

FrontendStatus FrontendProcessStride(const int16_t* samples, int8_t* frame) {
  const int keep = KWS_WINDOW_SAMPLES - KWS_STRIDE_SAMPLES;
  memmove(g_window, g_window + KWS_STRIDE_SAMPLES, keep * sizeof(int16_t));
  memcpy(g_window + keep, samples, KWS_STRIDE_SAMPLES * sizeof(int16_t));
  if (g_filled < KWS_WINDOW_SAMPLES) {
    g_filled += KWS_STRIDE_SAMPLES;
    if (g_filled < KWS_WINDOW_SAMPLES) return FrontendStatus::kFilling;
  }
  // Window zero-padded to the FFT length (the window table covers the FFT length).
  memcpy(g_fft_input, g_window, sizeof(g_window));
  memset(g_fft_input + KWS_WINDOW_SAMPLES, 0,
         (KWS_FFT_LENGTH - KWS_WINDOW_SAMPLES) * sizeof(q15_t));
  if (arm_mfcc_q15(&g_mfcc, g_fft_input, g_mfcc_out, g_scratch) != ARM_MATH_SUCCESS) {
    return FrontendStatus::kError;
  }
  // Output in q8.7: input_scale 1/128 in the settings gives MFCCs as floats.
  for (int i = 0; i < KWS_NUM_MFCC; ++i) {
    frame[i] = QuantizeFeature(g_mfcc_out[i]);
  }
  return FrontendStatus::kFrame;
}

}  // namespace kws
