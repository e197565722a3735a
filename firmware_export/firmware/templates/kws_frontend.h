// kws_frontend.h: audio -> one int8 feature frame per stride, quantized for the model input.
// Part of the ghost-keras firmware folder. Implemented by frontend_microfrontend.cc (TFLM
// microfrontend) or frontend_cmsis_mfcc.cc (CMSIS-DSP arm_mfcc_q15), whichever the folder holds.
#ifndef GHOST_KWS_KWS_FRONTEND_H_
#define GHOST_KWS_KWS_FRONTEND_H_

#include <math.h>
#include <stdint.h>

#include "model_settings.h"

namespace kws {

// Sets up the front end. Returns false on failure.
bool FrontendInit();

enum class FrontendStatus {
  kFrame,    // a new frame was written
  kFilling,  // the first window is not full yet: no frame
  kError,    // the front end failed: stop
};

// Consumes KWS_STRIDE_SAMPLES new 16-bit PCM samples at KWS_SAMPLE_RATE_HZ and writes one
// frame of KWS_FEATURE_FRAME_SIZE int8 values.
FrontendStatus FrontendProcessStride(const int16_t* samples, int8_t* frame);

// One front-end output value (integer, e.g. microfrontend uint16 or MFCC q8.7) -> the model's
// int8 feature input:
//   q = clamp(round_half_even(raw * KWS_FEATURE_QUANT_MULT + KWS_FEATURE_QUANT_OFFSET) + zp)
// in float32, as firmware_export.model_settings.quantize_features computes it in Python.
// (With a non-zero offset, build with -ffp-contract=off to keep the multiply and add
// separately rounded, as in Python; lrintf rounds half to even in the default rounding mode.)
inline int8_t QuantizeFeature(int32_t raw) {
  const float scaled = static_cast<float>(raw) * KWS_FEATURE_QUANT_MULT;
  const long rounded = lrintf(scaled + KWS_FEATURE_QUANT_OFFSET);
  long q = rounded + KWS_FEATURE_INPUT_ZERO_POINT;
  if (q < -128) q = -128;
  if (q > 127) q = 127;
  return static_cast<int8_t>(q);
}

}  // namespace kws

#endif  // GHOST_KWS_KWS_FRONTEND_H_
