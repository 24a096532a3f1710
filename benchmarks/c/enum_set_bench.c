/*
 * enum_set_bench.c - hand-written reference node and timing driver for benchmarks/bench_enum_set.py.
 *
 * Built by the benchmark with  cc -O2 -shared -fPIC -I<numba_rt include>.
 *
 * The node keeps a set of members of a 16-member enum whose values are not bit positions
 * (member i has the value VALUE(i) = 3 * i + 1) in one int64 state cell as a bit mask (bit i =
 * member i, the EnumSet[E] layout of docs/enum-sets.md). Per call: add the member of value c,
 * discard the member of value d, then the output is  sum of the members' values (iterating the
 * set bits from the lowest) + 1000 * popcount + (c in the set). A value that is no member is not
 * expected (the driver feeds members only); the C node maps a value to its bit with a lookup table,
 * as a C programmer would for a small value range.
 *
 * run_set() is the host (see bench_driver.h): it owns the cells, calls START, then times n EXECUTE
 * calls made through the function pointer it is given. noop_c_node (bench_driver.h) gives the floor.
 */
#include "bench_driver.h"

#define N_MEMBERS 16
#define VALUE(i) (3 * (int64_t)(i) + 1)

/* value -> bit + 1 (0: no member), what a C programmer writes for a small value range */
static const int8_t BIT_OF[VALUE(N_MEMBERS)] = {
    [VALUE(0)] = 1,   [VALUE(1)] = 2,   [VALUE(2)] = 3,   [VALUE(3)] = 4,
    [VALUE(4)] = 5,   [VALUE(5)] = 6,   [VALUE(6)] = 7,   [VALUE(7)] = 8,
    [VALUE(8)] = 9,   [VALUE(9)] = 10,  [VALUE(10)] = 11, [VALUE(11)] = 12,
    [VALUE(12)] = 13, [VALUE(13)] = 14, [VALUE(14)] = 15, [VALUE(15)] = 16,
};

static inline int bit_of(int64_t value)
{
    return (uint64_t)value < sizeof BIT_OF ? BIT_OF[value] - 1 : -1;
}

void set_c_node(void** outputs, int8_t* output_ticked, void** state, int8_t lifecycle_phase,
                void** inputs, int8_t* input_ticked, int8_t* input_valid)
{
    (void)input_ticked; (void)input_valid;
    uint64_t* s = (uint64_t*)state[0];
    if (lifecycle_phase == NCC_START) {
        *s = 0;
        return;
    }
    if (lifecycle_phase != NCC_EXECUTE)
        return;
    int64_t c = *(int64_t*)inputs[0], d = *(int64_t*)inputs[1];
    int bc = bit_of(c), bd = bit_of(d);
    uint64_t mask = *s;
    if (bc >= 0)
        mask |= (uint64_t)1 << bc;
    if (bd >= 0)
        mask &= ~((uint64_t)1 << bd);
    *s = mask;
    int64_t total = 0;
    for (uint64_t rest = mask; rest; rest &= rest - 1)
        total += VALUE(__builtin_ctzll(rest));
    int64_t has = bc >= 0 && ((mask >> bc) & 1);
    *(int64_t*)outputs[0] = total + 1000 * (int64_t)__builtin_popcountll(mask) + has;
    output_ticked[0] = 1;
}

/* Drive fn for n EXECUTE calls; returns ns per call (-1 on allocation failure). The sum of every
 * ticked output is stored in *checksum so the node's work is observable and can be compared. */
double run_set(ncc_host_node_fn fn, int64_t n, int64_t* checksum)
{
    int64_t* cs = malloc(BENCH_TABLE * sizeof(int64_t));
    int64_t* ds = malloc(BENCH_TABLE * sizeof(int64_t));
    int64_t* cells = calloc(4, 8); /* [0] output, [1] state set, [2] input c, [3] input d */
    if (!cs || !ds || !cells) {
        free(cs); free(ds); free(cells);
        return -1.0;
    }
    uint64_t seed = BENCH_SEED; /* deterministic members */
    for (int i = 0; i < BENCH_TABLE; i++) {
        uint64_t r = bench_next(&seed);
        cs[i] = VALUE(r % N_MEMBERS);
        ds[i] = VALUE((r >> 20) % N_MEMBERS);
    }
    void* outputs[1] = {&cells[0]};
    void* state[1] = {&cells[1]};
    void* inputs[2] = {&cells[2], &cells[3]};
    int8_t output_ticked[1] = {0}, input_ticked[2] = {0, 0}, input_valid[2] = {1, 1};

    fn(outputs, output_ticked, state, NCC_START, inputs, input_ticked, input_valid);
    int64_t acc = 0;
    double t0 = bench_now_ns();
    for (int64_t i = 0; i < n; i++) {
        cells[2] = cs[i & (BENCH_TABLE - 1)];
        cells[3] = ds[i & (BENCH_TABLE - 1)];
        input_ticked[0] = input_ticked[1] = 1;
        output_ticked[0] = 0; /* the host clears output ticks before EXECUTE */
        fn(outputs, output_ticked, state, NCC_EXECUTE, inputs, input_ticked, input_valid);
        if (output_ticked[0])
            acc += cells[0];
    }
    double t1 = bench_now_ns();
    fn(outputs, output_ticked, state, NCC_STOP, inputs, input_ticked, input_valid);
    *checksum = acc;
    free(cs); free(ds); free(cells);
    return bench_ns_per_call(t0, t1, n);
}
