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

// Called for each detected command. time_ms counts audio time since KwsSetup(); score is the
// averaged score 0..255. The default (weak) version prints with MicroPrintf.
void KwsOnDetection(const char* label, int64_t time_ms, uint8_t score);

// Sets up the front end, the interpreter and the recognizer. Returns false on failure
// (the reason is printed with MicroPrintf).
bool KwsSetup();

// Reads one stride of audio, computes one feature frame and, every KWS_FRAMES_PER_DECISION
// frames, runs the model and the recognizer. Returns false on failure.
bool KwsStep();

#endif  // GHOST_KWS_KWS_MAIN_H_
