/*
 * ema_bench.c - hand-written reference node and timing driver for benchmarks/bench_ema.py.
 *
 * Built by the benchmark with  cc -O2 -shared -fPIC -ffp-contract=off -I<numba_rt include>
 * -DEMA_ALPHA=<alpha>, so the hand-written node bakes alpha in as a compile-time constant exactly
 * like the compiled node does. -ffp-contract=off keeps C to plain IEEE mul/add (no fused
 * multiply-add), which is what Numba's IR asks LLVM for, so both nodes round identically and the
 * driver's checksums can be compared exactly.
 *
 * run() is the host: it owns the cells, calls START, then times n EXECUTE calls made through the
 * function pointer it is given. The compiled node and the hand-written one go through the very
 * same loop, so the only thing that differs between their timings is the node itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "ncc_runtime.h"

#ifndef EMA_ALPHA
#error "compile with -DEMA_ALPHA=<the alpha given to compile_node>"
#endif

#define N_INPUTS 4096 /* power of two; 32 KiB of inputs, stays in L1/L2 */

/* The same EMA as the Python node, written the way a C host author would write it. */
void ema_c_node(void** outputs, int8_t* output_ticked, void** state, int8_t lifecycle_phase,
                void** inputs, int8_t* input_ticked, int8_t* input_valid)
{
    (void)input_valid;
    double* avg = (double*)state[0];
    if (lifecycle_phase == NCC_START) {
        *avg = 0.0;
        return;
    }
    if (lifecycle_phase != NCC_EXECUTE)
        return;
    if (input_ticked[0]) {
        double x = *(double*)inputs[0];
        *avg = EMA_ALPHA * x + (1.0 - EMA_ALPHA) * *avg;
        *(double*)outputs[0] = *avg;
        output_ticked[0] = 1;
    }
}

/* Does nothing: timing it gives the floor (driver loop + indirect call) under both nodes. */
void noop_c_node(void** outputs, int8_t* output_ticked, void** state, int8_t lifecycle_phase,
                 void** inputs, int8_t* input_ticked, int8_t* input_valid)
{
    (void)outputs; (void)output_ticked; (void)state; (void)lifecycle_phase;
    (void)inputs; (void)input_ticked; (void)input_valid;
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Drive fn for n EXECUTE calls; returns ns per call (-1 on allocation failure). The sum of every
 * ticked output is stored in *checksum so the node's work is observable and can be compared. */
double run(ncc_host_node_fn fn, int64_t n, double* checksum)
{
    double* xs = malloc(N_INPUTS * sizeof(double));
    double* cells = calloc(3, 8); /* [0] output, [1] state avg, [2] input x */
    if (!xs || !cells) {
        free(xs);
        free(cells);
        return -1.0;
    }
    uint64_t seed = 0x9E3779B97F4A7C15u; /* xorshift64: deterministic inputs in [0, 100) */
    for (int i = 0; i < N_INPUTS; i++) {
        seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17;
        xs[i] = (double)(seed >> 11) * (100.0 / 9007199254740992.0);
    }
    void* outputs[1] = {&cells[0]};
    void* state[1] = {&cells[1]};
    void* inputs[1] = {&cells[2]};
    int8_t output_ticked[1] = {0}, input_ticked[1] = {0}, input_valid[1] = {0};

    fn(outputs, output_ticked, state, NCC_START, inputs, input_ticked, input_valid);
    input_valid[0] = 1;
    double acc = 0.0;
    double t0 = now_ns();
    for (int64_t i = 0; i < n; i++) {
        cells[2] = xs[i & (N_INPUTS - 1)]; /* write the input cell */
        input_ticked[0] = 1;
        output_ticked[0] = 0;              /* the host clears output ticks before EXECUTE */
        fn(outputs, output_ticked, state, NCC_EXECUTE, inputs, input_ticked, input_valid);
        if (output_ticked[0])
            acc += cells[0];
    }
    double t1 = now_ns();
    fn(outputs, output_ticked, state, NCC_STOP, inputs, input_ticked, input_valid);
    *checksum = acc;
    free(xs);
    free(cells);
    return n > 0 ? (t1 - t0) / (double)n : 0.0;
}
