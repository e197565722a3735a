// recognize_commands.h: turns the model's per-step scores into detected commands.
// Part of the ghost-keras firmware folder.
//
// The algorithm of TFLM micro_speech's RecognizeCommands: scores averaged over a time window,
// a command when the top average is above a threshold, the same command suppressed for a
// while. Integer arithmetic only, so it agrees exactly with the Python reference
// firmware_export/firmware/recognizer.py (tests feed both the same scores). Differences from TFLM:
// labels flagged in KWS_IGNORED_LABELS (silence, unknown) are never reported; the fixed ring
// buffer drops its oldest result when full (TFLM drops the newest); times are 64-bit.
//
// No TFLM header, no heap: all storage is in the object (about
// KWS_RECOGNIZER_CAPACITY * (8 + KWS_NUM_LABELS) bytes).
#ifndef GHOST_KWS_RECOGNIZE_COMMANDS_H_
#define GHOST_KWS_RECOGNIZE_COMMANDS_H_

#include <stdint.h>

#include "model_settings.h"

namespace kws {

// The outcome of one ProcessLatestResults() call.
struct RecognitionResult {
  int label_index;      // top label of the averaged window (previous command if undecided)
  uint8_t score;        // its average score 0..255 (int8 score + 128); 0 if undecided
  bool is_new_command;  // TFLM's is_new_command
  bool reported;        // is_new_command and the label is not ignored: a detection
};

class RecognizeCommands {
 public:
  static constexpr int kNumLabels = KWS_NUM_LABELS;
  static constexpr int kMaxResults = KWS_RECOGNIZER_CAPACITY;

  // average_window_ms: length of the averaging window. detection_threshold: in score units
  // (0..255); a command needs an average strictly above it. suppression_ms: the same command
  // is not repeated within this time. minimum_count: results needed in the window before
  // deciding. capacity: results kept (1..kMaxResults). ignored: kNumLabels flags, nullptr
  // for KWS_IGNORED_LABELS.
  explicit RecognizeCommands(int32_t average_window_ms = KWS_AVERAGE_WINDOW_MS,
                             uint8_t detection_threshold = KWS_DETECTION_THRESHOLD,
                             int32_t suppression_ms = KWS_SUPPRESSION_MS,
                             int32_t minimum_count = KWS_MINIMUM_COUNT,
                             int capacity = KWS_RECOGNIZER_CAPACITY,
                             const uint8_t* ignored = nullptr);

  // Adds the scores of one model invocation (kNumLabels values) at current_time_ms.
  // Returns false (and leaves *result untouched) if the configuration is invalid, the time
  // is negative or earlier than the previous call's.
  bool ProcessLatestResults(const int8_t* scores, int64_t current_time_ms,
                            RecognitionResult* result);
  bool ProcessLatestResults(const uint8_t* scores, int64_t current_time_ms,
                            RecognitionResult* result);

  // Forgets all results and the previous command.
  void Reset();

 private:
  bool Process(const uint8_t* scores, int64_t current_time_ms, RecognitionResult* result);
  void PopFront();

  // Configuration
  int32_t average_window_ms_;
  uint8_t detection_threshold_;
  int32_t suppression_ms_;
  int32_t minimum_count_;
  int capacity_;
  bool valid_;
  bool ignored_[kNumLabels];

  // Ring buffer of the results inside the window, oldest at front_.
  int64_t times_[kMaxResults];
  uint8_t scores_[kMaxResults][kNumLabels];
  int front_;
  int size_;

  // Previous command (-1: none yet) and the time of the previous result.
  int previous_index_;
  int64_t previous_time_;
  bool has_last_time_;
  int64_t last_time_;
};

}  // namespace kws

#endif  // GHOST_KWS_RECOGNIZE_COMMANDS_H_
