/*
 * host_main.c - a C host driving one compiled reference-host node with one float input and one
 * float output, with no Python in the process.
 *
 * Build with -DNODE_FN=<result.native_name> -DNODE_STATES=<len(result.state_values)> and link
 * the node's object file and libnumba_rt.
 *
 * Usage: host_main X...   each X is a float fed to input 0 on one EXECUTE, or "-" for an
 *                         EXECUTE where the input does not tick.
 * Prints, one event per line:
 *   state <16 hex digits per state cell>     after START, after STOP
 *   exec <output ticked 0|1> <output value>  after each EXECUTE
 *   error <ncc_error_code()>                 after every call
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ncc_runtime.h"

#ifndef NODE_FN
#error "compile with -DNODE_FN=<native name of the node>"
#endif
#ifndef NODE_STATES
#error "compile with -DNODE_STATES=<number of state cells>"
#endif

void NODE_FN(void** outputs, int8_t* output_ticked, void** state, int8_t lifecycle_phase,
             void** inputs, int8_t* input_ticked, int8_t* input_valid);

static uint64_t state_cells[NODE_STATES + 1];
static void* state[NODE_STATES + 1];
static double output_cell;
static void* outputs[1] = {&output_cell};
static int8_t output_ticked[1];
static double input_cell;
static void* inputs[1] = {&input_cell};
static int8_t input_ticked[1];
static int8_t input_valid[1];

static void call(int8_t phase) {
    NODE_FN(outputs, output_ticked, state, phase, inputs, input_ticked, input_valid);
    printf("error %d\n", (int)ncc_error_code());
    ncc_error_clear();
}

static void print_state(void) {
    printf("state");
    for (int i = 0; i < NODE_STATES; ++i) printf(" %016" PRIx64, state_cells[i]);
    printf("\n");
}

static void execute(const char* arg) {
    output_ticked[0] = 0;
    input_ticked[0] = 0;
    if (strcmp(arg, "-") != 0) {
        input_cell = strtod(arg, NULL);
        input_ticked[0] = 1;
        input_valid[0] = 1;
    }
    call(NCC_EXECUTE);
    printf("exec %d %.17g\n", (int)output_ticked[0], output_cell);
}

int main(int argc, char** argv) {
    for (int i = 0; i < NODE_STATES; ++i) state[i] = &state_cells[i];
    call(NCC_START);
    print_state();
    for (int i = 1; i < argc; ++i) execute(argv[i]);
    call(NCC_STOP);
    call(NCC_STOP);
    print_state();
    execute(argc > 1 ? argv[argc - 1] : "-");
    return 0;
}
