// m4_startup.cc: the vector table of the Cortex-M4 test binary (qemu-system-arm -M mps2-an386).
// Reset goes to newlib's _start (rdimon: semihosting I/O, argv, zeroed .bss, constructors).
// A fault ends the run with exit status 70 so that a test fails at once instead of hanging.
#include <unistd.h>

extern "C" void _start();
extern "C" char __stack[];

namespace {

void FaultHandler() { _exit(70); }

using Handler = void (*)();

}  // namespace

__attribute__((section(".vectors"), used)) const Handler g_vectors[16] = {
    reinterpret_cast<Handler>(__stack), _start, FaultHandler, FaultHandler, FaultHandler,
    FaultHandler, FaultHandler, nullptr, nullptr, nullptr, nullptr, FaultHandler, FaultHandler,
    nullptr, FaultHandler, FaultHandler,
};
