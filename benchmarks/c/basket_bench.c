/*
 * basket_bench.c - hand-written reference node and timing driver for benchmarks/bench_basket.py.
 *
 * Built by the benchmark with  cc -O2 -shared -fPIC -ffp-contract=off -I<numba_rt include>.
 *
 * The nodes: a basket of BASKET_N float inputs (input slots 0..BASKET_N-1, as the compiled node's
 * `prices: Basket[float, 16]` lays them out). basket_c_node outputs the sum of the elements that
 * ticked in this call; total_c_node adds them to a running total kept in state[0] and outputs the
 * total. Written the way a C host author would: one loop over the N int8 tick flags, reading only
 * the ticked cells. The sum is written twice: as is (gcc -O2 keeps the loop; its one
 * data-dependent branch is mispredicted often, since which 4 of the 16 elements tick is random),
 * and with the loop fully unrolled (`#pragma GCC unroll`, what LLVM does to the compiled node's
 * loop): 16 branch sites, each predicted on its own.
 *
 * run() is the host (see bench_driver.h): it owns the cells, calls START, then times n EXECUTE calls
 * made through the function pointer it is given. Each call clears the N tick flags, ticks
 * TICKS_PER_CALL distinct elements (a precomputed pattern) with new values, clears the output tick
 * and calls the node. noop_c_node (bench_driver.h) gives the floor.
 */
#include <string.h>

#include "bench_driver.h"

#define BASKET_N 16
#define TICKS_PER_CALL 4

void basket_c_node(void** outputs, int8_t* output_ticked, void** state, int8_t lifecycle_phase,
                   void** inputs, int8_t* input_ticked, int8_t* input_valid)
{
    (void)state; (void)input_valid;
    if (lifecycle_phase != NCC_EXECUTE)
        return;
    double sum = 0.0;
    for (int k = 0; k < BASKET_N; k++)
        if (input_ticked[k])
            sum += *(double*)inputs[k];
    *(double*)outputs[0] = sum;
    output_ticked[0] = 1;
}

void basket_c_node_unrolled(void** outputs, int8_t* output_ticked, void** state, int8_t lifecycle_phase,
                            void** inputs, int8_t* input_ticked, int8_t* input_valid)
{
    (void)state; (void)input_valid;
    if (lifecycle_phase != NCC_EXECUTE)
        return;
    double sum = 0.0;
#pragma GCC unroll 16
    for (int k = 0; k < BASKET_N; k++)
        if (input_ticked[k])
            sum += *(double*)inputs[k];
    *(double*)outputs[0] = sum;
    output_ticked[0] = 1;
}

void total_c_node(void** outputs, int8_t* output_ticked, void** state, int8_t lifecycle_phase,
                  void** inputs, int8_t* input_ticked, int8_t* input_valid)
{
    (void)input_valid;
    double* total = (double*)state[0];
    if (lifecycle_phase == NCC_START) {
        *total = 0.0;
        return;
    }
    if (lifecycle_phase != NCC_EXECUTE)
        return;
#pragma GCC unroll 16
    for (int k = 0; k < BASKET_N; k++)
        if (input_ticked[k])
            *total += *(double*)inputs[k];
    *(double*)outputs[0] = *total;
    output_ticked[0] = 1;
}

/* Drive fn for n EXECUTE calls; returns ns per call (-1 on allocation failure). The sum of every
 * ticked output is stored in *checksum so the node's work is observable and can be compared. */
double run(ncc_host_node_fn fn, int64_t n, double* checksum)
{
    uint8_t* which = malloc(BENCH_TABLE * TICKS_PER_CALL);       /* elements ticked per call */
    double* values = malloc(BENCH_TABLE * TICKS_PER_CALL * sizeof(double));
    double* cells = calloc(2 + BASKET_N, 8); /* [0] output, [1] state total, [2..] the basket */
    if (!which || !values || !cells) {
        free(which); free(values); free(cells);
        return -1.0;
    }
    uint64_t seed = BENCH_SEED; /* deterministic patterns: 4 distinct elements, values in [0, 100) */
    for (int p = 0; p < BENCH_TABLE; p++) {
        uint32_t used = 0;
        for (int t = 0; t < TICKS_PER_CALL; t++) {
            int k;
            do k = (int)(bench_next(&seed) >> 60); while (used & (1u << k)); /* top 4 bits: 0..15 */
            used |= 1u << k;
            which[p * TICKS_PER_CALL + t] = (uint8_t)k;
            values[p * TICKS_PER_CALL + t] = bench_uniform(&seed);
        }
    }
    void* outputs[1] = {&cells[0]};
    void* state[1] = {&cells[1]};
    void* inputs[BASKET_N];
    for (int k = 0; k < BASKET_N; k++)
        inputs[k] = &cells[2 + k];
    int8_t output_ticked[1] = {0}, input_ticked[BASKET_N] = {0}, input_valid[BASKET_N];
    memset(input_valid, 1, sizeof input_valid);

    fn(outputs, output_ticked, state, NCC_START, inputs, input_ticked, input_valid);
    double acc = 0.0;
    double t0 = bench_now_ns();
    for (int64_t i = 0; i < n; i++) {
        int64_t p = (i & (BENCH_TABLE - 1)) * TICKS_PER_CALL;
        memset(input_ticked, 0, sizeof input_ticked); /* the host clears ticks before EXECUTE */
        for (int t = 0; t < TICKS_PER_CALL; t++) {
            int k = which[p + t];
            cells[2 + k] = values[p + t]; /* write the input cell */
            input_ticked[k] = 1;
        }
        output_ticked[0] = 0;
        fn(outputs, output_ticked, state, NCC_EXECUTE, inputs, input_ticked, input_valid);
        if (output_ticked[0])
            acc += cells[0];
    }
    double t1 = bench_now_ns();
    fn(outputs, output_ticked, state, NCC_STOP, inputs, input_ticked, input_valid);
    *checksum = acc;
    free(which); free(values); free(cells);
    return bench_ns_per_call(t0, t1, n);
}
