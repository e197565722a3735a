// recognize_commands.cc: see recognize_commands.h. Part of the ghost-keras firmware folder.
#include "recognize_commands.h"

namespace kws {

namespace {
const uint8_t kDefaultIgnored[KWS_NUM_LABELS] = KWS_IGNORED_LABELS;
}  // namespace

RecognizeCommands::RecognizeCommands(int32_t average_window_ms, uint8_t detection_threshold,
                                     int32_t suppression_ms, int32_t minimum_count,
                                     int capacity, const uint8_t* ignored)
    : average_window_ms_(average_window_ms),
      detection_threshold_(detection_threshold),
      suppression_ms_(suppression_ms),
      minimum_count_(minimum_count),
      capacity_(capacity),
      valid_(average_window_ms > 0 && suppression_ms >= 0 && minimum_count >= 1 &&
             capacity >= 1 && capacity <= kMaxResults) {
  const uint8_t* flags = ignored != nullptr ? ignored : kDefaultIgnored;
  for (int i = 0; i < kNumLabels; ++i) {
    ignored_[i] = flags[i] != 0;
  }
  Reset();
}

void RecognizeCommands::Reset() {
  front_ = 0;
  size_ = 0;
  previous_index_ = -1;
  previous_time_ = 0;
  has_last_time_ = false;
  last_time_ = 0;
}

void RecognizeCommands::PopFront() {
  front_ = (front_ + 1) % kMaxResults;
  --size_;
}

bool RecognizeCommands::ProcessLatestResults(const int8_t* scores, int64_t current_time_ms,
                                             RecognitionResult* result) {
  // int8 scores -128..127 -> 0..255, the unit of the averages and the threshold.
  uint8_t shifted[kNumLabels];
  for (int i = 0; i < kNumLabels; ++i) {
    shifted[i] = static_cast<uint8_t>(static_cast<int>(scores[i]) + 128);
  }
  return Process(shifted, current_time_ms, result);
}

bool RecognizeCommands::ProcessLatestResults(const uint8_t* scores, int64_t current_time_ms,
                                             RecognitionResult* result) {
  return Process(scores, current_time_ms, result);
}

bool RecognizeCommands::Process(const uint8_t* scores, int64_t current_time_ms,
                                RecognitionResult* result) {
  if (!valid_ || current_time_ms < 0 || (has_last_time_ && current_time_ms < last_time_)) {
    return false;
  }
  has_last_time_ = true;
  last_time_ = current_time_ms;

  // Drop results older than the window before adding the new one: the same set TFLM keeps
  // (it adds first), but the buffer only needs room for the window.
  const int64_t time_limit = current_time_ms - average_window_ms_;
  while (size_ > 0 && times_[front_] < time_limit) {
    PopFront();
  }
  if (size_ == capacity_) {
    PopFront();  // full: the oldest result makes room
  }
  const int back = (front_ + size_) % kMaxResults;
  times_[back] = current_time_ms;
  for (int i = 0; i < kNumLabels; ++i) {
    scores_[back][i] = scores[i];
  }
  ++size_;

  // Too few results, or too short a span, for a reliable average.
  const int64_t earliest_time = times_[front_];
  if (size_ < minimum_count_ || current_time_ms - earliest_time < average_window_ms_ / 4) {
    result->label_index = previous_index_ < 0 ? 0 : previous_index_;
    result->score = 0;
    result->is_new_command = false;
    result->reported = false;
    return true;
  }

  // Average of each label over the window (integer division, like TFLM).
  int32_t sums[kNumLabels];
  for (int i = 0; i < kNumLabels; ++i) {
    sums[i] = 0;
  }
  for (int k = 0; k < size_; ++k) {
    const uint8_t* row = scores_[(front_ + k) % kMaxResults];
    for (int i = 0; i < kNumLabels; ++i) {
      sums[i] += row[i];
    }
  }
  int top_index = 0;
  int32_t top_score = 0;
  for (int i = 0; i < kNumLabels; ++i) {
    const int32_t average = sums[i] / size_;
    if (average > top_score) {  // strictly greater: ties keep the lower index
      top_score = average;
      top_index = i;
    }
  }

  // The same command again within suppression_ms is not new; after an ignored label (or
  // before any command) nothing is suppressed.
  bool suppressed = false;
  if (previous_index_ >= 0 && !ignored_[previous_index_]) {
    suppressed = top_index == previous_index_ &&
                 current_time_ms - previous_time_ <= static_cast<int64_t>(suppression_ms_);
  }
  const bool is_new = top_score > static_cast<int32_t>(detection_threshold_) && !suppressed;
  if (is_new) {
    previous_index_ = top_index;
    previous_time_ = current_time_ms;
  }
  result->label_index = top_index;
  result->score = static_cast<uint8_t>(top_score);
  result->is_new_command = is_new;
  result->reported = is_new && !ignored_[top_index];
  return true;
}

}  // namespace kws
