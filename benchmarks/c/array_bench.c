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
 * run_ring() is the host: it owns the cells and the array memory, calls START, times n EXECUTE calls
 * made through the function pointer it is given (clock_gettime inside C), then calls STOP. The
 * compiled node and the hand-written one go through the very same loop, so only the node differs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ncc_runtime.h"

#ifndef WINDOW
#error "compile with -DWINDOW=<the length given to create_new_array>"
#endif

#define N_TABLE 4096 /* power of two: the driver's precomputed inputs, stays in L1/L2 */

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

/* Does nothing: timing it gives the floor (driver loop + indirect call) under every node. */
void noop_c_node(void** outputs, int8_t* output_ticked, void** state, int8_t lifecycle_phase,
                 void** inputs, int8_t* input_ticked, int8_t* input_valid)
{
    (void)outputs; (void)output_ticked; (void)state; (void)lifecycle_phase;
    (void)inputs; (void)input_ticked; (void)input_valid;
}

/* ==== driver ================================================================================= */
static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t xorshift(uint64_t* seed)
{
    *seed ^= *seed << 13; *seed ^= *seed >> 7; *seed ^= *seed << 17;
    return *seed;
}

/* Drive a ring node (input x: float; one float output; state: the array, then the position) for n
 * EXECUTE calls between START and STOP; returns ns per call (-1 on allocation failure). The sum of
 * every ticked output goes to *checksum. The array memory is 64-byte aligned, zeroed, the host's. */
double run_ring(ncc_host_node_fn fn, int64_t n, double* checksum)
{
    double* xs = malloc(N_TABLE * sizeof(double));
    double* buf = aligned_alloc(64, ((WINDOW * sizeof(double) + 63) / 64) * 64);
    double* cells = calloc(3, 8); /* [0] output, [1] pos (int64), [2] x */
    if (!xs || !buf || !cells) {
        free(xs); free(buf); free(cells);
        return -1.0;
    }
    memset(buf, 0, WINDOW * sizeof(double));
    uint64_t seed = 0x9E3779B97F4A7C15u;
    for (int i = 0; i < N_TABLE; i++) /* deterministic values in [0, 100) */
        xs[i] = (double)(xorshift(&seed) >> 11) * (100.0 / 9007199254740992.0);
    void* outputs[1] = {&cells[0]};
    void* state[2] = {buf, &cells[1]};
    void* inputs[1] = {&cells[2]};
    int8_t output_ticked[1] = {0}, input_ticked[1] = {0}, input_valid[1] = {0};

    fn(outputs, output_ticked, state, NCC_START, inputs, input_ticked, input_valid);
    input_valid[0] = 1;
    double acc = 0.0;
    double t0 = now_ns();
    for (int64_t i = 0; i < n; i++) {
        cells[2] = xs[i & (N_TABLE - 1)];
        input_ticked[0] = 1;
        output_ticked[0] = 0; /* host clears output ticks */
        fn(outputs, output_ticked, state, NCC_EXECUTE, inputs, input_ticked, input_valid);
        if (output_ticked[0])
            acc += cells[0];
    }
    double t1 = now_ns();
    fn(outputs, output_ticked, state, NCC_STOP, inputs, input_ticked, input_valid);
    *checksum = acc;
    free(xs); free(buf); free(cells);
    return n > 0 ? (t1 - t0) / (double)n : 0.0;
}
