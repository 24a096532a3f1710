/*
 * containers_bench.c - hand-written reference nodes and timing drivers for
 * benchmarks/bench_containers.py (SPEC section 8: dict accumulate and list window, goal <= 1.5x).
 *
 * Built by the benchmark with  cc -O2 -shared -fPIC -ffp-contract=off -I<numba_rt include>
 * -DWINDOW=<size given to compile_node> ... -lnumba_rt (the runtime is needed by dict_c_ncc_node
 * only), so the window size is a compile-time constant in C as it is in the compiled node.
 * -ffp-contract=off keeps C to plain IEEE adds (no fused multiply-add), as Numba's IR asks of
 * LLVM, so sums round identically and the checksums compare exactly.
 *
 * The hand-written nodes are what a C programmer would write for the same semantics, with the
 * same lifecycle rules as compiled nodes (allocate in START, free and NULL the cell in STOP,
 * EXECUTE on a NULL cell does nothing): the state cell holds a pointer to a heap object that
 * grows on demand, like the runtime's containers. Nothing is pre-sized for the benchmark.
 *
 * run_dict() / run_list() are the hosts (see bench_driver.h; run_list is its bench_run_float): they
 * own the cells, call START, time n EXECUTE calls made through the function pointer they are given,
 * then call STOP. The compiled node and the hand-written ones go through the very same loop, so only
 * the node itself differs. noop_c_node (bench_driver.h) gives the floor.
 */
#include <string.h>

#include "bench_driver.h"

#ifndef WINDOW
#error "compile with -DWINDOW=<the size given to compile_node>"
#endif

#define N_KEYS 1000    /* distinct dict keys */
#define KEY_SPREAD 7919 /* keys are r * KEY_SPREAD, r in [0, N_KEYS): spread out, not 0..999 */

/* Heap objects made by the hand-written nodes and not yet freed (checked by the script after
 * every run, like ncc_live_containers() for the compiled node). */
static int64_t c_live;
int64_t c_live_objects(void) { return c_live; }

/* ==== an int64 -> double hash map, as a C programmer would write it ==========================
 * Open addressing, power-of-two table, linear probing, Fibonacci (multiplicative) hashing on the
 * high bits, grows x2 past 3/4 load. Slots are {key, value} pairs plus an occupancy byte array
 * (every int64 is a valid key, so there is no sentinel key). Starts at 16 slots. */
typedef struct {
    int64_t key;
    double value;
} map_slot;

typedef struct {
    int64_t count;   /* occupied slots */
    int64_t mask;    /* slots - 1 */
    int shift;       /* 64 - log2(slots) */
    map_slot* slots;
    uint8_t* used;   /* 1 = slot occupied */
} i64f64_map;

#define MAP_INITIAL_LOG2 4

/* The probe paths are forced inline: gcc -O2 would otherwise keep map_upsert out of line (it has
 * two callers and a loop), and this C is meant to be the strong reference. Growth stays a call. */
#define HOT static inline __attribute__((always_inline))

HOT int64_t map_home(const i64f64_map* m, int64_t key)
{
    return (int64_t)(((uint64_t)key * 0x9E3779B97F4A7C15ull) >> m->shift);
}

static int map_alloc(i64f64_map* m, int log2_slots)
{
    int64_t n = (int64_t)1 << log2_slots;
    m->slots = malloc((size_t)n * sizeof(map_slot));
    m->used = calloc((size_t)n, 1);
    if (!m->slots || !m->used) {
        free(m->slots);
        free(m->used);
        return -1;
    }
    m->count = 0;
    m->mask = n - 1;
    m->shift = 64 - log2_slots;
    return 0;
}

static i64f64_map* map_new(void)
{
    i64f64_map* m = malloc(sizeof *m);
    if (!m)
        return NULL;
    if (map_alloc(m, MAP_INITIAL_LOG2) != 0) {
        free(m);
        return NULL;
    }
    c_live++;
    return m;
}

static void map_free(i64f64_map* m)
{
    if (!m)
        return;
    free(m->slots);
    free(m->used);
    free(m);
    c_live--;
}

/* Slot holding key, or -1. */
HOT int64_t map_find(const i64f64_map* m, int64_t key)
{
    int64_t i = map_home(m, key);
    while (m->used[i]) {
        if (m->slots[i].key == key)
            return i;
        i = (i + 1) & m->mask;
    }
    return -1;
}

HOT double map_get_or(const i64f64_map* m, int64_t key, double dflt)
{
    int64_t i = map_find(m, key);
    return i >= 0 ? m->slots[i].value : dflt;
}

static __attribute__((noinline)) int map_grow(i64f64_map* m)
{
    i64f64_map old = *m;
    if (map_alloc(m, 64 - old.shift + 1) != 0) {
        *m = old;
        return -1;
    }
    for (int64_t j = 0; j <= old.mask; j++) {
        if (!old.used[j])
            continue;
        int64_t i = map_home(m, old.slots[j].key);
        while (m->used[i])
            i = (i + 1) & m->mask;
        m->used[i] = 1;
        m->slots[i] = old.slots[j];
    }
    m->count = old.count;
    free(old.slots);
    free(old.used);
    return 0;
}

/* Pointer to key's value, inserting key with value 0.0 if absent; NULL if out of memory. */
HOT double* map_upsert(i64f64_map* m, int64_t key)
{
    for (;;) {
        int64_t i = map_home(m, key);
        while (m->used[i]) {
            if (m->slots[i].key == key)
                return &m->slots[i].value;
            i = (i + 1) & m->mask;
        }
        if ((m->count + 1) * 4 > (m->mask + 1) * 3) { /* would pass 3/4 load: grow, probe again */
            if (map_grow(m) != 0)
                return NULL;
            continue;
        }
        m->used[i] = 1;
        m->slots[i].key = key;
        m->slots[i].value = 0.0;
        m->count++;
        return &m->slots[i].value;
    }
}

HOT int map_put(i64f64_map* m, int64_t key, double value)
{
    double* slot = map_upsert(m, key);
    if (!slot)
        return -1;
    *slot = value;
    return 0;
}

/* dict accumulate: total = d.get(k, 0.0) + v; d[k] = total; return total
 * (a lookup, then a store that looks the key up again: the same two probes as the compiled node). */
void dict_c_node(void** outputs, int8_t* output_ticked, void** state, int8_t lifecycle_phase,
                 void** inputs, int8_t* input_ticked, int8_t* input_valid)
{
    (void)input_ticked; (void)input_valid;
    i64f64_map** cell = (i64f64_map**)state[0];
    if (lifecycle_phase == NCC_START) {
        map_free(*cell);
        *cell = map_new();
        return;
    }
    if (lifecycle_phase == NCC_STOP) {
        map_free(*cell);
        *cell = NULL;
        return;
    }
    if (lifecycle_phase != NCC_EXECUTE)
        return;
    i64f64_map* m = *cell;
    if (!m)
        return;
    int64_t k = *(int64_t*)inputs[0];
    double v = *(double*)inputs[1];
    double total = map_get_or(m, k, 0.0) + v;
    if (map_put(m, k, total) != 0)
        return;
    *(double*)outputs[0] = total;
    output_ticked[0] = 1;
}

/* Informational: the same map, one probe per call (find-or-insert, then add in place). Faster
 * than any get-then-set, compiled or not; shows what a tuned C node would do. */
void dict_c_upsert_node(void** outputs, int8_t* output_ticked, void** state, int8_t lifecycle_phase,
                        void** inputs, int8_t* input_ticked, int8_t* input_valid)
{
    (void)input_ticked; (void)input_valid;
    i64f64_map** cell = (i64f64_map**)state[0];
    if (lifecycle_phase == NCC_START) {
        map_free(*cell);
        *cell = map_new();
        return;
    }
    if (lifecycle_phase == NCC_STOP) {
        map_free(*cell);
        *cell = NULL;
        return;
    }
    if (lifecycle_phase != NCC_EXECUTE)
        return;
    i64f64_map* m = *cell;
    if (!m)
        return;
    int64_t k = *(int64_t*)inputs[0];
    double v = *(double*)inputs[1];
    double* slot = map_upsert(m, k);
    if (!slot)
        return;
    *slot = *slot + v; /* 0.0 + v for a new key, as d.get(k, 0.0) + v */
    *(double*)outputs[0] = *slot;
    output_ticked[0] = 1;
}

/* ==== the runtime's own dict, used from C ===================================================
 * Informational: the same two operations written in C against the runtime's ncc_dict (its layout,
 * its ncc_hash_int and probe sequence from ncc_containers.h; ncc_dict_new/free/grow from
 * libnumba_rt), i.e. what the compiled node does, by hand. Comparing it with the compiled node
 * separates code generation from the data structure: the gap between the compiled node and
 * dict_c_node above is the insertion-ordered layout (index -> entry, then key, then value) and
 * the hash, not the code. */
HOT int64_t ncc_find(const ncc_dict* d, int64_t key)
{
    int64_t mask = d->mask;
    int64_t slot = (int64_t)(ncc_hash_int(key) & (uint64_t)mask);
    for (;;) {
        int64_t pos = d->index[slot];
        if (pos == NCC_SLOT_EMPTY)
            return -1;
        if (pos >= 0 && d->keys[pos] == key)
            return pos;
        slot = (slot + 1) & mask;
    }
}

void dict_c_ncc_node(void** outputs, int8_t* output_ticked, void** state, int8_t lifecycle_phase,
                     void** inputs, int8_t* input_ticked, int8_t* input_valid)
{
    (void)input_ticked; (void)input_valid;
    ncc_dict** cell = (ncc_dict**)state[0];
    if (lifecycle_phase == NCC_START) {
        ncc_dict_free(*cell);
        *cell = ncc_dict_new(NCC_KIND_FLOAT, 8);
        return;
    }
    if (lifecycle_phase == NCC_STOP) {
        ncc_dict_free(*cell);
        *cell = NULL;
        return;
    }
    if (lifecycle_phase != NCC_EXECUTE)
        return;
    ncc_dict* d = *cell;
    if (!d)
        return;
    int64_t k = *(int64_t*)inputs[0];
    double v = *(double*)inputs[1];
    double old = 0.0;
    int64_t pos = ncc_find(d, k);
    if (pos >= 0)
        memcpy(&old, &d->values[pos], 8);
    double total = old + v;
    pos = ncc_find(d, k); /* the store looks the key up again, as d[k] = total does */
    if (pos >= 0) {
        memcpy(&d->values[pos], &total, 8);
    } else {
        if (d->used == d->capacity && ncc_dict_grow(d) != 0)
            return;
        int64_t mask = d->mask;
        int64_t slot = (int64_t)(ncc_hash_int(k) & (uint64_t)mask);
        while (d->index[slot] >= 0)
            slot = (slot + 1) & mask;
        pos = d->used;
        d->keys[pos] = k;
        memcpy(&d->values[pos], &total, 8);
        d->live[pos] = 1;
        d->index[slot] = pos;
        d->used = pos + 1;
        d->len++;
    }
    *(double*)outputs[0] = total;
    output_ticked[0] = 1;
}

/* ==== a growable array of doubles ============================================================
 * Append doubles the capacity when full (starts at 8); pop-front shifts the rest down with
 * memmove, the same algorithm as list.pop(0) (not a ring buffer). */
typedef struct {
    int64_t len;
    int64_t cap;
    double* data;
} f64_vec;

static f64_vec* vec_new(void)
{
    f64_vec* v = malloc(sizeof *v);
    if (!v)
        return NULL;
    v->len = 0;
    v->cap = 8;
    v->data = malloc(8 * sizeof(double));
    if (!v->data) {
        free(v);
        return NULL;
    }
    c_live++;
    return v;
}

static void vec_free(f64_vec* v)
{
    if (!v)
        return;
    free(v->data);
    free(v);
    c_live--;
}

static int vec_grow(f64_vec* v)
{
    double* data = realloc(v->data, (size_t)v->cap * 2 * sizeof(double));
    if (!data)
        return -1;
    v->data = data;
    v->cap *= 2;
    return 0;
}

/* list window: w.append(x); if len(w) > WINDOW: w.pop(0); return sum(w) summed front to back */
void list_c_node(void** outputs, int8_t* output_ticked, void** state, int8_t lifecycle_phase,
                 void** inputs, int8_t* input_ticked, int8_t* input_valid)
{
    (void)input_ticked; (void)input_valid;
    f64_vec** cell = (f64_vec**)state[0];
    if (lifecycle_phase == NCC_START) {
        vec_free(*cell);
        *cell = vec_new();
        return;
    }
    if (lifecycle_phase == NCC_STOP) {
        vec_free(*cell);
        *cell = NULL;
        return;
    }
    if (lifecycle_phase != NCC_EXECUTE)
        return;
    f64_vec* w = *cell;
    if (!w)
        return;
    double x = *(double*)inputs[0];
    if (w->len == w->cap && vec_grow(w) != 0)
        return;
    w->data[w->len++] = x;
    if (w->len > WINDOW) {
        memmove(w->data, w->data + 1, (size_t)(w->len - 1) * sizeof(double));
        w->len--;
    }
    double s = 0.0;
    for (int64_t i = 0; i < w->len; i++)
        s += w->data[i];
    *(double*)outputs[0] = s;
    output_ticked[0] = 1;
}

/* ==== drivers ================================================================================ */
/* Heap placement. glibc hands a freed block back to the next request of the same size, so a run
 * that allocates and frees the same containers gets the same addresses every time, and one
 * process can sit on an unlucky placement for every round (for the list window, a data buffer at
 * 48 mod 64 bytes made a ~62 ns call cost 72 to 100 ns on the machine this was written on, for
 * the hand-written C and the compiled node alike, how much depending on where their code lies).
 * With placement = k the driver holds k blocks of each size 64 B .. 16 KiB (the sizes container
 * storage grows through) from before START until after STOP, so the containers land elsewhere in
 * the heap; the script gives every node the same k in a round and changes k from round to round. */
#define PLACEMENT_MAX 8 /* the script uses 0 .. 7 */
#define PLACEMENT_SIZES 9 /* 64 << 0 .. 64 << 8 */

static int placement_take(void** blocks, int64_t placement)
{
    int n = 0;
    for (int64_t k = 0; k < placement && k < PLACEMENT_MAX; k++)
        for (int j = 0; j < PLACEMENT_SIZES; j++)
            if ((blocks[n] = malloc((size_t)64 << j)) != NULL)
                n++;
    return n;
}

static void placement_release(void** blocks, int n)
{
    while (n > 0)
        free(blocks[--n]);
}

/* The key sequence: four shuffled permutations of 0..N_KEYS-1 back to back (so every key occurs,
 * in pseudo-random order), then random draws to fill the table; each times KEY_SPREAD. */
static void fill_keys(int64_t* ks, uint64_t seed)
{
    int i = 0;
    while (i + N_KEYS <= BENCH_TABLE) {
        for (int j = 0; j < N_KEYS; j++)
            ks[i + j] = j;
        for (int j = N_KEYS - 1; j > 0; j--) { /* Fisher-Yates */
            int r = (int)(bench_next(&seed) % (uint64_t)(j + 1));
            int64_t t = ks[i + j]; ks[i + j] = ks[i + r]; ks[i + r] = t;
        }
        i += N_KEYS;
    }
    for (; i < BENCH_TABLE; i++)
        ks[i] = (int64_t)(bench_next(&seed) % N_KEYS);
    for (i = 0; i < BENCH_TABLE; i++)
        ks[i] *= KEY_SPREAD;
}

/* Drive a dict node (inputs k: int, v: float; one float output) for n EXECUTE calls between START
 * and STOP, holding `placement` sets of heap blocks meanwhile (see above); returns ns per call (-1 on
 * allocation failure). The sum of every ticked output goes to *checksum. */
double run_dict(ncc_host_node_fn fn, int64_t n, int64_t placement, double* checksum)
{
    void* blocks[PLACEMENT_MAX * PLACEMENT_SIZES];
    int held = placement_take(blocks, placement);
    int64_t* ks = malloc(BENCH_TABLE * sizeof(int64_t));
    double* vs = bench_values(BENCH_SEED);
    int64_t* cells = calloc(4, 8); /* [0] output, [1] state (container pointer), [2] k, [3] v */
    if (!ks || !vs || !cells) {
        free(ks); free(vs); free(cells);
        placement_release(blocks, held);
        return -1.0;
    }
    fill_keys(ks, 0x2545F4914F6CDD1Du);
    void* outputs[1] = {&cells[0]};
    void* state[1] = {&cells[1]};
    void* inputs[2] = {&cells[2], &cells[3]};
    int8_t output_ticked[1] = {0}, input_ticked[2] = {0, 0}, input_valid[2] = {0, 0};

    fn(outputs, output_ticked, state, NCC_START, inputs, input_ticked, input_valid);
    input_valid[0] = input_valid[1] = 1;
    double acc = 0.0;
    double t0 = bench_now_ns();
    for (int64_t i = 0; i < n; i++) {
        cells[2] = ks[i & (BENCH_TABLE - 1)]; /* write the input cells */
        memcpy(&cells[3], &vs[i & (BENCH_TABLE - 1)], 8);
        input_ticked[0] = input_ticked[1] = 1;
        output_ticked[0] = 0;                 /* host clears output ticks */
        fn(outputs, output_ticked, state, NCC_EXECUTE, inputs, input_ticked, input_valid);
        if (output_ticked[0]) {
            double out;
            memcpy(&out, &cells[0], 8);
            acc += out;
        }
    }
    double t1 = bench_now_ns();
    fn(outputs, output_ticked, state, NCC_STOP, inputs, input_ticked, input_valid);
    *checksum = acc;
    free(ks); free(vs); free(cells);
    placement_release(blocks, held);
    return bench_ns_per_call(t0, t1, n);
}

/* Drive a list node (input x: float; one float output; state: the container pointer cell) with
 * bench_run_float (bench_driver.h), holding `placement` sets of heap blocks meanwhile, as run_dict. */
double run_list(ncc_host_node_fn fn, int64_t n, int64_t placement, double* checksum)
{
    void* blocks[PLACEMENT_MAX * PLACEMENT_SIZES];
    int held = placement_take(blocks, placement);
    double ns = bench_run_float(fn, n, 0, checksum);
    placement_release(blocks, held);
    return ns;
}
