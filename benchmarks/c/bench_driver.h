/*
 * bench_driver.h - what the benchmark drivers in this directory share: the clock, the input
 * tables, the no-op node that gives the floor, and the host for nodes with one float input and
 * one float output (bench_run_float).
 *
 * A driver is the host: it owns the cells, calls START, times n EXECUTE calls made through the
 * function pointer it is given with clock_gettime(CLOCK_MONOTONIC) inside C, then calls STOP. The
 * compiled node and the hand-written one go through the very same loop, so the only thing that
 * differs between their timings is the node itself. Every ticked output is added to a checksum, so
 * a node's work is observable and two nodes' checksums can be compared exactly.
 *
 * Include it from exactly one C file per benchmark library: it defines noop_c_node.
 */
#ifndef BENCH_DRIVER_H
#define BENCH_DRIVER_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ncc_runtime.h"

#define BENCH_TABLE 4096 /* power of two: a driver's precomputed inputs, stays in L1/L2 */
#define BENCH_SEED 0x9E3779B97F4A7C15u

static inline double bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static inline double bench_ns_per_call(double t0, double t1, int64_t n)
{
    return n > 0 ? (t1 - t0) / (double)n : 0.0;
}

static inline uint64_t bench_next(uint64_t* seed) /* xorshift64: deterministic inputs */
{
    *seed ^= *seed << 13; *seed ^= *seed >> 7; *seed ^= *seed << 17;
    return *seed;
}

static inline double bench_uniform(uint64_t* seed) /* the next value in [0, 100) */
{
    return (double)(bench_next(seed) >> 11) * (100.0 / 9007199254740992.0);
}

/* A table of BENCH_TABLE values in [0, 100) (malloc'ed; NULL if out of memory). */
static inline double* bench_values(uint64_t seed)
{
    double* xs = malloc(BENCH_TABLE * sizeof(double));
    if (xs)
        for (int i = 0; i < BENCH_TABLE; i++)
            xs[i] = bench_uniform(&seed);
    return xs;
}

/* Does nothing: timing it gives the floor (driver loop + indirect call) under every node. */
void noop_c_node(void** outputs, int8_t* output_ticked, void** state, int8_t lifecycle_phase,
                 void** inputs, int8_t* input_ticked, int8_t* input_valid)
{
    (void)outputs; (void)output_ticked; (void)state; (void)lifecycle_phase;
    (void)inputs; (void)input_ticked; (void)input_valid;
}

/* The host of a node with one float input x and one float output. The node's state: if
 * array_bytes > 0, state[0] is an array of that many bytes (64-byte aligned, zeroed), then one
 * 8-byte cell (zeroed). START, then n timed EXECUTE calls, each writing the next input from the
 * table (bench_values(BENCH_SEED)), setting the input tick, clearing the output tick (the host
 * clears output ticks before EXECUTE), calling fn and adding a ticked output to the checksum; then
 * STOP. Returns ns per call, -1 on allocation failure. */
static inline double bench_run_float(ncc_host_node_fn fn, int64_t n, size_t array_bytes, double* checksum)
{
    double* xs = bench_values(BENCH_SEED);
    void* array = array_bytes > 0 ? aligned_alloc(64, (array_bytes + 63) / 64 * 64) : NULL;
    double* cells = calloc(3, 8); /* [0] output, [1] the state cell, [2] input x */
    if (!xs || (array_bytes > 0 && !array) || !cells) {
        free(xs); free(array); free(cells);
        return -1.0;
    }
    if (array)
        memset(array, 0, array_bytes);
    void* outputs[1] = {&cells[0]};
    void* state[2] = {array, &cells[1]};
    void** node_state = array ? state : state + 1;
    void* inputs[1] = {&cells[2]};
    int8_t output_ticked[1] = {0}, input_ticked[1] = {0}, input_valid[1] = {0};

    fn(outputs, output_ticked, node_state, NCC_START, inputs, input_ticked, input_valid);
    input_valid[0] = 1;
    double acc = 0.0;
    double t0 = bench_now_ns();
    for (int64_t i = 0; i < n; i++) {
        cells[2] = xs[i & (BENCH_TABLE - 1)]; /* write the input cell */
        input_ticked[0] = 1;
        output_ticked[0] = 0;
        fn(outputs, output_ticked, node_state, NCC_EXECUTE, inputs, input_ticked, input_valid);
        if (output_ticked[0])
            acc += cells[0];
    }
    double t1 = bench_now_ns();
    fn(outputs, output_ticked, node_state, NCC_STOP, inputs, input_ticked, input_valid);
    *checksum = acc;
    free(xs); free(array); free(cells);
    return bench_ns_per_call(t0, t1, n);
}

#endif /* BENCH_DRIVER_H */
