// m4_ticks.h: instruction counting on QEMU's Cortex-M4 for the device harness and probe.
// SysTick counts down from 2^24 - 1 at the core clock. Under qemu-system-arm -icount shift=0
// every instruction is one nanosecond of virtual time, so ticks convert to executed
// instructions; CalibrationTicks() measures the factor on a loop of known length. Counts are
// instructions, not cycles.
#ifndef GHOST_KWS_DEVICE_M4_TICKS_H_
#define GHOST_KWS_DEVICE_M4_TICKS_H_

#include <stdint.h>

namespace kws_device {

inline volatile uint32_t* SysTick() { return reinterpret_cast<volatile uint32_t*>(0xE000E010); }
constexpr uint32_t kTickMask = 0xFFFFFF;

inline void StartTicks() {
  SysTick()[0] = 0;          // CTRL: off
  SysTick()[1] = kTickMask;  // LOAD
  SysTick()[2] = 0;          // VAL
  SysTick()[0] = 5;          // CTRL: processor clock, on, no interrupt
}

inline uint32_t Ticks() { return SysTick()[2]; }
inline uint32_t Elapsed(uint32_t start) { return (start - Ticks()) & kTickMask; }

constexpr uint32_t kCalibrationLoops = 100000;
constexpr uint32_t kCalibrationInstructions = 2 * kCalibrationLoops + 1;

// Ticks for a loop of exactly kCalibrationInstructions instructions (mov; subs, bne per loop).
inline uint32_t CalibrationTicks() {
  const uint32_t start = Ticks();
  __asm__ volatile(
      "mov r0, %0\n"
      "1: subs r0, r0, #1\n"
      "bne 1b\n"
      :
      : "r"(kCalibrationLoops)
      : "r0", "cc");
  return Elapsed(start);
}

}  // namespace kws_device

#endif  // GHOST_KWS_DEVICE_M4_TICKS_H_
