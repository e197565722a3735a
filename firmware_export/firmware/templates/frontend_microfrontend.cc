// frontend_microfrontend.cc: kws_frontend.h on TFLM's microfrontend (the front end of TFLM
// micro_speech and of TensorFlow's audio_microfrontend op). Part of the ghost-keras firmware
// folder. Needs tensorflow/lite/experimental/microfrontend/lib and kissfft from tflite-micro.
#include <stdlib.h>

#include "frontend_tables.h"
#include "kws_frontend.h"

#include "tensorflow/lite/experimental/microfrontend/lib/frontend.h"
#include "tensorflow/lite/experimental/microfrontend/lib/frontend_util.h"

#if KWS_FRONTEND_KIND != KWS_FRONTEND_MICROFRONTEND
#error "model_settings.h was generated for another front end"
#endif

namespace kws {

namespace {
// The front end keeps state across frames (noise estimate, gain control): the device's
// features depend on the audio before them, so training must featurize the same way.
FrontendState g_frontend_state;
}  // namespace

bool FrontendInit() {
  FrontendConfig config;
  FrontendFillConfigWithDefaults(&config);
  config.window.size_ms = KWS_WINDOW_MS;
  config.window.step_size_ms = KWS_STRIDE_MS;
  config.filterbank.num_channels = KWS_NUM_CHANNELS;
  config.filterbank.lower_band_limit = KWS_LOWER_BAND_LIMIT_HZ;
  config.filterbank.upper_band_limit = KWS_UPPER_BAND_LIMIT_HZ;
  config.noise_reduction.smoothing_bits = KWS_MF_SMOOTHING_BITS;
  config.noise_reduction.even_smoothing = KWS_MF_EVEN_SMOOTHING;
  config.noise_reduction.odd_smoothing = KWS_MF_ODD_SMOOTHING;
  config.noise_reduction.min_signal_remaining = KWS_MF_MIN_SIGNAL_REMAINING;
  config.pcan_gain_control.enable_pcan = KWS_MF_ENABLE_PCAN;
  config.pcan_gain_control.strength = KWS_MF_PCAN_STRENGTH;
  config.pcan_gain_control.offset = KWS_MF_PCAN_OFFSET;
  config.pcan_gain_control.gain_bits = KWS_MF_GAIN_BITS;
  config.log_scale.enable_log = KWS_MF_ENABLE_LOG;
  config.log_scale.scale_shift = KWS_MF_SCALE_SHIFT;
  // FrontendPopulateState allocates its buffers with malloc, once, here (README: heap).
  if (FrontendPopulateState(&config, &g_frontend_state, KWS_SAMPLE_RATE_HZ) == 0) return false;

  // The library computes its window and filterbank tables in single precision; TensorFlow's
  // audio_microfrontend op, which the model was trained on, in double, and a few weights
  // differ. Use the training front end's tables (frontend_tables.c) so that this device
  // computes the training features bit for bit.
  WindowState& window = g_frontend_state.window;
  FilterbankState& bank = g_frontend_state.filterbank;
  if (window.size != KWS_WINDOW_COEFFICIENTS_LEN ||
      bank.num_channels + 1 != KWS_FILTERBANK_CHANNEL_WIDTHS_LEN) {
    return false;  // frontend_tables.c was generated for other settings
  }
  free(window.coefficients);
  free(bank.channel_frequency_starts);
  free(bank.channel_weight_starts);
  free(bank.channel_widths);
  free(bank.weights);
  free(bank.unweights);
  // The library only reads these tables; its pointers are not const.
  window.coefficients = const_cast<int16_t*>(kws_window_coefficients);
  bank.start_index = kws_filterbank_start_index[0];
  bank.end_index = kws_filterbank_end_index[0];
  bank.channel_frequency_starts = const_cast<int16_t*>(kws_filterbank_channel_frequency_starts);
  bank.channel_weight_starts = const_cast<int16_t*>(kws_filterbank_channel_weight_starts);
  bank.channel_widths = const_cast<int16_t*>(kws_filterbank_channel_widths);
  bank.weights = const_cast<int16_t*>(kws_filterbank_weights);
  bank.unweights = const_cast<int16_t*>(kws_filterbank_unweights);
  return true;
}

FrontendStatus FrontendProcessStride(const int16_t* samples, int8_t* frame) {
  // The microfrontend buffers the window itself and stops after each frame, so feed it until
  // the stride is used up; at steady state exactly one frame comes out per stride.
  size_t used = 0;
  bool produced = false;
  while (used < static_cast<size_t>(KWS_STRIDE_SAMPLES)) {
    size_t read = 0;
    const FrontendOutput out = FrontendProcessSamples(
        &g_frontend_state, samples + used, KWS_STRIDE_SAMPLES - used, &read);
    used += read;
    if (out.size == static_cast<size_t>(KWS_FEATURE_FRAME_SIZE)) {
      for (int i = 0; i < KWS_FEATURE_FRAME_SIZE; ++i) {
        frame[i] = QuantizeFeature(out.values[i]);
      }
      produced = true;
    }
    if (read == 0) break;
  }
  return produced ? FrontendStatus::kFrame : FrontendStatus::kFilling;
}

}  // namespace kws
