/*
 * adapter_bench.c - timing driver and references for benchmarks/bench_adapter.py.
 *
 * An engine that calls nodes through a callback of its own shape, here
 *     int8_t tick(void** state, double x, double* out)
 * (run EXECUTE with input x; write the output to *out; return whether it ticked), gets that shape
 * either from an entry adapter (generated in LLVM IR, in the node's own module) or from a C shim
 * that fills the host ABI's arrays and calls the node's entry point through a pointer, which is
 * what it would write without adapters. ema_c_tick is the same EMA written by hand in that shape.
 *
 * Built by the benchmark with  cc -O2 -shared -fPIC -ffp-contract=off -I<numba_rt include>
 * -DEMA_ALPHA=<alpha> (see ema_bench.c for why); run_tick() times every variant through the same
 * loop and the same function pointer type, with the clock and the input table of bench_driver.h.
 */
#include "bench_driver.h"

#ifndef EMA_ALPHA
#error "compile with -DEMA_ALPHA=<the alpha given to compile_node>"
#endif

typedef int8_t (*tick_fn)(void** state, double x, double* out);

/* The EMA in the engine's shape, by hand. */
int8_t ema_c_tick(void** state, double x, double* out)
{
    double* avg = (double*)state[0];
    *avg = EMA_ALPHA * x + (1.0 - EMA_ALPHA) * *avg;
    *out = *avg;
    return 1;
}

/* The C shim a host writes without adapters: the engine's shape over the node's entry point. */
static ncc_host_node_fn shim_entry;

void set_shim_entry(ncc_host_node_fn fn) { shim_entry = fn; }

int8_t shim_tick(void** state, double x, double* out)
{
    void* inputs[1] = {&x};
    void* outputs[1] = {out};
    int8_t input_flags[1] = {1}, output_ticked[1] = {0};
    shim_entry(outputs, output_ticked, state, NCC_EXECUTE, inputs, input_flags, input_flags);
    return output_ticked[0];
}

/* n calls of fn with inputs from a fixed table; ns per call; the sum of the ticked outputs in
 * *checksum. The state cell starts at 0.0, the EMA's initial value (what START writes). */
double run_tick(tick_fn fn, int64_t n, double* checksum)
{
    double* xs = bench_values(BENCH_SEED);
    if (!xs)
        return -1.0;
    double avg = 0.0, out = 0.0, acc = 0.0;
    void* state[1] = {&avg};
    double t0 = bench_now_ns();
    for (int64_t i = 0; i < n; i++)
        if (fn(state, xs[i & (BENCH_TABLE - 1)], &out))
            acc += out;
    double t1 = bench_now_ns();
    *checksum = acc;
    free(xs);
    return bench_ns_per_call(t0, t1, n);
}
