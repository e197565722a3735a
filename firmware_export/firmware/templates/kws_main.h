// kws_main.h: the streaming keyword-spotting loop. Part of the ghost-keras firmware folder.
//
// The board provides KwsReadAudio() (and may replace KwsOnDetection()); the application calls
// KwsSetup() once and KwsStep() forever (Arduino: from setup() and loop()).
#ifndef GHOST_KWS_KWS_MAIN_H_
#define GHOST_KWS_KWS_MAIN_H_

#include <stdint.h>

// Blocks until `count` new 16-bit mono PCM samples at KWS_SAMPLE_RATE_HZ are in `samples`;
// returns the number written (anything but `count` stops the step). Provided by the board.
int KwsReadAudio(int16_t* samples, int count);

// Called for each detected command. time_ms counts audio time since KwsSetup() (64 bits: no
// wrap); score is the averaged score 0..255. The default (weak) version prints with MicroPrintf.
void KwsOnDetection(const char* label, int64_t time_ms, uint8_t score);

// What one Invoke() saw and produced, for KwsAfterInvoke().
struct KwsInvokeTrace {
  int64_t time_ms;        // audio time of the newest frame
  const int8_t* features; // the model's feature input (KWS_FEATURE_INPUT_SIZE bytes)
  int feature_bytes;
  const int8_t* scores;   // the model's score output, int8 (KWS_NUM_LABELS bytes)
  int score_bytes;
  const int8_t* state;    // the new recurrent state, all states back to back
  int state_bytes;        // 0 for a window model
};

// Optional hooks around each Invoke(), e.g. to time it with a cycle counter or to log what the
// model saw (the default, weak versions do nothing). KwsAfterInvoke runs before the recognizer.
void KwsBeforeInvoke();
void KwsAfterInvoke(const KwsInvokeTrace& trace);

// Sets up the front end, the interpreter and the recognizer. Returns false on failure
// (the reason is printed with MicroPrintf).
bool KwsSetup();

// Reads one stride of audio, computes one feature frame and, every KWS_FRAMES_PER_DECISION
// frames, runs the model and the recognizer. Returns false on failure.
bool KwsStep();

#endif  // GHOST_KWS_KWS_MAIN_H_
