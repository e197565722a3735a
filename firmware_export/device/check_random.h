// check_random.h: the fixed-seed generator of the kernel check programs, so that every build
// and target runs the same cases.
#ifndef GHOST_KWS_DEVICE_CHECK_RANDOM_H_
#define GHOST_KWS_DEVICE_CHECK_RANDOM_H_

#include <cmath>
#include <cstdint>

namespace kws_check {

class Random {
 public:
  explicit Random(uint32_t seed) : state_(seed) {}

  // 24 bits of a 32-bit linear congruential generator (Numerical Recipes' constants).
  uint32_t Next() {
    state_ = state_ * 1664525u + 1013904223u;
    return state_ >> 8;
  }
  int Uniform(int lo, int hi) { return lo + static_cast<int>(Next() % (hi - lo + 1)); }
  float LogUniform(float lo, float hi) {
    const float u = static_cast<float>(Next() % 1000000) / 1000000.0f;
    return lo * std::pow(hi / lo, u);
  }

 private:
  uint32_t state_;
};

}  // namespace kws_check

#endif  // GHOST_KWS_DEVICE_CHECK_RANDOM_H_
