/*
 * A C host that runs a node keeping a list and a dict, then reads both out of the node's state
 * cells with the runtime's host API (ncc_containers.h). No Python in this process.
 *
 * The node is `book` from containers_demo.py:
 *     recent: State[NumbaList[float]]        the last 4 prices
 *     per_venue: State[NumbaDict[int, int]]  trades per venue
 * containers_demo.py passes the entry point's name and the state layout as -D flags:
 *     NODE_SYMBOL   _gc_numba_<semantic_key>
 *     STATE_COUNT   len(result.state_values)
 *     RECENT_CELL   result.state_names.index("recent")
 *     VENUES_CELL   result.state_names.index("per_venue")
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ncc_runtime.h"

#if !defined(NODE_SYMBOL) || !defined(STATE_COUNT) || !defined(RECENT_CELL) || !defined(VENUES_CELL)
#error "build with -DNODE_SYMBOL=... -DSTATE_COUNT=... -DRECENT_CELL=... -DVENUES_CELL=... (containers_demo.py does this)"
#endif

void NODE_SYMBOL(void** outputs, int8_t* output_ticked, void** state, int8_t lifecycle_phase,
                 void** inputs, int8_t* input_ticked, int8_t* input_valid);

/* A float element is the 8 bytes of a double in an int64_t slot. */
static double as_double(int64_t bits) {
    double value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

static int check_fault(const char* when) {
    if (ncc_error_code() == NCC_OK) return 0;
    printf("%s: fault %d: %s\n", when, (int)ncc_error_code(), ncc_error_message());
    ncc_error_clear();
    return 1;
}

static void print_containers(void** state) {
    /* A container cell holds a pointer to the runtime's object (NULL before START / after STOP). */
    const ncc_list* recent = *(ncc_list**)state[RECENT_CELL];
    const ncc_dict* per_venue = *(ncc_dict**)state[VENUES_CELL];

    printf("recent (len %lld):", (long long)ncc_list_len(recent));
    for (int64_t i = 0; i < ncc_list_len(recent); ++i) {
        int64_t bits;
        ncc_list_get(recent, i, &bits);
        printf(" %g", as_double(bits));
    }
    int64_t last;
    if (ncc_list_get(recent, -1, &last) == 0) printf("  (last %g)", as_double(last));
    printf("\n");

    printf("per_venue (len %lld):", (long long)ncc_dict_len(per_venue));
    int64_t pos = 0, key, bits;
    while (ncc_dict_next(per_venue, &pos, &key, &bits)) /* insertion order */
        printf(" %lld->%lld", (long long)key, (long long)bits);
    printf("\n");
}

int main(void) {
    ncc_host_node_fn node = NODE_SYMBOL;

    double mean = 0.0;
    void* outputs[1] = {&mean};
    int8_t output_ticked[1] = {0};

    int64_t cells[STATE_COUNT];
    void* state[STATE_COUNT];
    memset(cells, 0, sizeof cells); /* zeroed cells: START does the rest */
    for (int i = 0; i < STATE_COUNT; ++i) state[i] = &cells[i];

    double price = 0.0;
    int64_t venue = 0;
    void* inputs[2] = {&price, &venue};
    int8_t input_ticked[2] = {0, 0};
    int8_t input_valid[2] = {0, 0};

    node(outputs, output_ticked, state, NCC_START, inputs, input_ticked, input_valid);
    if (check_fault("start")) return 1;
    printf("after START: %lld live containers\n", (long long)ncc_live_containers());

    /* The host may write into a container between calls: venue 9 starts with 100 trades. */
    ncc_dict_set(*(ncc_dict**)state[VENUES_CELL], 9, 100);

    const double prices[] = {10.0, 11.0, 12.5, 12.0, 13.0, 14.0};
    const int64_t venues[] = {1, 2, 1, 9, 1, 2};
    for (int i = 0; i < 6; ++i) {
        memset(output_ticked, 0, sizeof output_ticked);
        price = prices[i];
        venue = venues[i];
        input_ticked[0] = input_ticked[1] = 1;
        input_valid[0] = input_valid[1] = 1;
        node(outputs, output_ticked, state, NCC_EXECUTE, inputs, input_ticked, input_valid);
        if (check_fault("execute")) continue;
        if (output_ticked[0]) printf("price=%g venue=%lld -> mean=%g\n", price, (long long)venue, mean);
    }

    print_containers(state);

    const ncc_dict* per_venue = *(ncc_dict**)state[VENUES_CELL];
    int64_t trades;
    if (ncc_dict_get(per_venue, 1, &trades) == 0) printf("venue 1: %lld trades\n", (long long)trades);
    if (ncc_dict_get(per_venue, 5, &trades) != 0) printf("venue 5: not in the dict\n");

    /* The layout is public too: the fields can be read directly. */
    const ncc_list* recent = *(ncc_list**)state[RECENT_CELL];
    printf("recent: len=%lld capacity=%lld kind=%d\n", (long long)recent->len,
           (long long)recent->capacity, (int)recent->kind);

    node(outputs, output_ticked, state, NCC_STOP, inputs, input_ticked, input_valid);
    if (check_fault("stop")) return 1;
    printf("after STOP: cells %s, %lld live containers\n",
           (cells[RECENT_CELL] == 0 && cells[VENUES_CELL] == 0) ? "NULL" : "not NULL",
           (long long)ncc_live_containers());

    /* EXECUTE after STOP: a fault in the error record, no crash. */
    memset(output_ticked, 0, sizeof output_ticked);
    node(outputs, output_ticked, state, NCC_EXECUTE, inputs, input_ticked, input_valid);
    check_fault("execute after STOP");
    return 0;
}
