/*
 * A minimal C host for one compiled node of the reference host (numba_cfunc_compiler.host).
 *
 * The node is the EMA from build_and_run.py:
 *     def ema(x: Signal[float], alpha: float) -> Signal[float]
 * so it has one float input, one float output and STATE_COUNT state cells. It faults on a
 * price <= 0 (an @numba.njit helper raises), which shows the runtime's error record.
 *
 * The node's code comes from an object file emitted from result.llvm_ir; its symbol is
 * _gc_numba_<semantic_key>, passed in as -DNODE_SYMBOL=... because the key is only known after
 * compiling. Nothing here uses Python: this binary links against libnumba_rt only.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ncc_runtime.h"

#ifndef NODE_SYMBOL
#error "build with -DNODE_SYMBOL=_gc_numba_<semantic_key> (build_and_run.py does this)"
#endif
#ifndef STATE_COUNT
#error "build with -DSTATE_COUNT=<len(result.state_values)>"
#endif

/* Defined in the object file emitted from result.llvm_ir. */
void NODE_SYMBOL(void** outputs, int8_t* output_ticked, void** state, int8_t lifecycle_phase,
                 void** inputs, int8_t* input_ticked, int8_t* input_valid);

/* Report and clear a pending runtime fault. Returns 1 if there was one. */
static int check_fault(const char* when) {
    if (ncc_error_code() == NCC_OK) return 0;
    printf("%s: fault %d: %s\n", when, (int)ncc_error_code(), ncc_error_message());
    ncc_error_clear();
    return 1;
}

int main(void) {
    /* The signature check: the node must match the reference host's ABI. */
    ncc_host_node_fn node = NODE_SYMBOL;

    /* Outputs: one host-owned 8-byte cell per output, plus one tick flag each. */
    double out = 0.0;
    void* outputs[1] = {&out};
    int8_t output_ticked[1] = {0};

    /* State: zeroed 8-byte cells. START writes the initial values. */
    int64_t state_cells[STATE_COUNT];
    void* state[STATE_COUNT];
    memset(state_cells, 0, sizeof state_cells);
    for (int i = 0; i < STATE_COUNT; ++i) state[i] = &state_cells[i];

    /* Inputs: one cell per Signal input, plus ticked/valid flags owned by the host. */
    double x = 0.0;
    void* inputs[1] = {&x};
    int8_t input_ticked[1] = {0};
    int8_t input_valid[1] = {0};

    node(outputs, output_ticked, state, NCC_START, inputs, input_ticked, input_valid);
    if (check_fault("start")) return 1;

    const double xs[] = {10.0, 20.0, -1.0, 30.0, 40.0};
    for (int i = 0; i < 5; ++i) {
        memset(output_ticked, 0, sizeof output_ticked); /* the host clears ticks, never the node */
        x = xs[i];
        input_ticked[0] = 1;
        input_valid[0] = 1;
        node(outputs, output_ticked, state, NCC_EXECUTE, inputs, input_ticked, input_valid);
        char when[32];
        snprintf(when, sizeof when, "x=%g", x);
        if (check_fault(when)) continue; /* discard the outputs of a faulting call */
        if (output_ticked[0]) printf("x=%g -> ema=%g\n", x, out);
    }

    /* An EXECUTE where x did not tick: this node writes no output. */
    memset(output_ticked, 0, sizeof output_ticked);
    input_ticked[0] = 0;
    node(outputs, output_ticked, state, NCC_EXECUTE, inputs, input_ticked, input_valid);
    printf("no tick -> %s\n", output_ticked[0] ? "output" : "no output");

    node(outputs, output_ticked, state, NCC_STOP, inputs, input_ticked, input_valid);
    node(outputs, output_ticked, state, NCC_STOP, inputs, input_ticked, input_valid); /* safe */
    if (check_fault("stop")) return 1;

    printf("runtime %s\n", ncc_runtime_version());
    return 0;
}
