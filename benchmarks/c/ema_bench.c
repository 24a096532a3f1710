/*
 * ema_bench.c - hand-written reference node and timing driver for benchmarks/bench_ema.py.
 *
 * Built by the benchmark with  cc -O2 -shared -fPIC -ffp-contract=off -I<numba_rt include>
 * -DEMA_ALPHA=<alpha>, so the hand-written node bakes alpha in as a compile-time constant exactly
 * like the compiled node does. -ffp-contract=off keeps C to plain IEEE mul/add (no fused
 * multiply-add), which is what Numba's IR asks LLVM for, so both nodes round identically and the
 * driver's checksums can be compared exactly.
 *
 * run() is the host (bench_run_float in bench_driver.h): it owns the cells, calls START, then times
 * n EXECUTE calls made through the function pointer it is given. The compiled node and the
 * hand-written one go through the very same loop, so the only thing that differs between their
 * timings is the node itself. noop_c_node (bench_driver.h) gives the floor.
 */
#include "bench_driver.h"

#ifndef EMA_ALPHA
#error "compile with -DEMA_ALPHA=<the alpha given to compile_node>"
#endif

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

/* The host (bench_driver.h): input x, the EMA's state cell, one output. */
double run(ncc_host_node_fn fn, int64_t n, double* checksum)
{
    return bench_run_float(fn, n, 0, checksum);
}
