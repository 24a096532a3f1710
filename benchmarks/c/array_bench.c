/*
 * array_bench.c - the hand-written reference node and the timing driver for
 * benchmarks/bench_array.py (a rolling mean over a fixed NumbaArray; goal <= 1.2x C).
 *
 * Built by the benchmark with  cc -O2 -shared -fPIC -ffp-contract=off -I<numba_rt include>
 * -DWINDOW=<N given to create_new_array>, so the window is a compile-time constant in C as it is
 * in the compiled node. -ffp-contract=off keeps C to plain IEEE adds (no fused multiply-add), as
 * Numba's IR asks of LLVM, so sums round identically and the checksums compare exactly.
 *
 * State layout: the same for both nodes, as the compiled node's artifact describes it:
 *   state[0] -> double buf[WINDOW]   (a "bytes" slot of WINDOW * 8 bytes: NumbaArray[float, WINDOW])
 *   state[1] -> int64_t pos          (an 8-byte int64 cell)
 * START zeroes both, EXECUTE writes x at pos, advances pos modulo WINDOW and returns the mean of the
 * WINDOW values summed front to back: what a C programmer would write for the same semantics.
 *
 * run_ring() is the host (bench_run_float in bench_driver.h, given the array's size): it owns the
 * cells and the array memory, calls START, times n EXECUTE calls made through the function pointer
 * it is given (clock_gettime inside C), then calls STOP. The compiled node and the hand-written one
 * go through the very same loop, so only the node differs. noop_c_node (bench_driver.h) gives the
 * floor.
 */
#include <string.h>

#include "bench_driver.h"

#ifndef WINDOW
#error "compile with -DWINDOW=<the length given to create_new_array>"
#endif

/* The ring buffer: buf[pos] = x; pos = (pos + 1) % WINDOW; return sum(buf) / WINDOW */
void ring_c_node(void** outputs, int8_t* output_ticked, void** state, int8_t lifecycle_phase,
                 void** inputs, int8_t* input_ticked, int8_t* input_valid)
{
    (void)input_ticked; (void)input_valid;
    double* buf = (double*)state[0];
    int64_t* pos = (int64_t*)state[1];
    if (lifecycle_phase == NCC_START) {
        memset(buf, 0, WINDOW * sizeof(double));
        *pos = 0;
        return;
    }
    if (lifecycle_phase != NCC_EXECUTE)
        return;
    int64_t p = *pos;
    if (p < 0 || p >= WINDOW) /* the node's state is the host's memory: never write outside it */
        return;
    buf[p] = *(double*)inputs[0];
    *pos = (p + 1) % WINDOW;
    double total = 0.0;
    for (int64_t i = 0; i < WINDOW; i++)
        total += buf[i];
    *(double*)outputs[0] = total / WINDOW;
    output_ticked[0] = 1;
}

/* ==== driver ================================================================================= */
/* The host (bench_driver.h): input x, the array (64-byte aligned, zeroed, the host's memory) and
 * the position cell, one output. */
double run_ring(ncc_host_node_fn fn, int64_t n, double* checksum)
{
    return bench_run_float(fn, n, WINDOW * sizeof(double), checksum);
}
