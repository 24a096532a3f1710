/*
 * Runs the nodes of the installed aotdemo wheel from C, with no Python in the process.
 *
 *   cc run_nodes.c -I <site-packages>/aotdemo/_nodes -I <numba_rt include dir> -ldl -o run_nodes
 *   ./run_nodes <site-packages>/aotdemo/_nodes/libaotdemo.so
 *
 * aotdemo.h (shipped in the wheel) gives each node's symbol and slot counts; ncc_runtime.h gives
 * the lifecycle phases. libaotdemo.so finds libnumba_rt.so next to it (RUNPATH $ORIGIN).
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "aotdemo.h"
#include "ncc_runtime.h"

typedef int32_t (*error_code_fn)(void);
typedef const char* (*error_message_fn)(void);
typedef void (*error_clear_fn)(void);

static error_code_fn error_code;
static error_message_fn error_message;
static error_clear_fn error_clear;

static int fault(const char* when) {
    if (error_code() == 0) return 0;
    printf("%s: fault %d: %s\n", when, (int)error_code(), error_message());
    error_clear();
    return 1;
}

int main(int argc, char** argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s path/to/libaotdemo.so\n", argv[0]);
        return 2;
    }
    void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    error_code = (error_code_fn)dlsym(lib, "ncc_error_code");  /* the runtime's, via the library */
    error_message = (error_message_fn)dlsym(lib, "ncc_error_message");
    error_clear = (error_clear_fn)dlsym(lib, "ncc_error_clear");
    ncc_host_node_fn ema = (ncc_host_node_fn)dlsym(lib, AOTDEMO_EMA_SYMBOL);
    ncc_host_node_fn band = (ncc_host_node_fn)dlsym(lib, AOTDEMO_BAND_SYMBOL);
    if (!error_code || !error_message || !error_clear || !ema || !band) {
        fprintf(stderr, "dlsym: %s\n", dlerror());
        return 1;
    }

    /* Host-owned 8-byte cells: one per input, output and state slot; state zeroed. */
    double x = 0.0, avg = 0.0;
    int64_t count = 0;
    void* inputs[1] = {&x};
    int8_t ticked[1] = {1}, valid[1] = {1};
    void* ema_out[1] = {&avg};
    void* band_out[1] = {&count};
    int8_t out_ticked[1];
    int64_t ema_cells[AOTDEMO_EMA_N_STATE] = {0}, band_cells[AOTDEMO_BAND_N_STATE] = {0};
    void* ema_state[AOTDEMO_EMA_N_STATE];
    void* band_state[AOTDEMO_BAND_N_STATE];
    for (int i = 0; i < AOTDEMO_EMA_N_STATE; ++i) ema_state[i] = &ema_cells[i];
    for (int i = 0; i < AOTDEMO_BAND_N_STATE; ++i) band_state[i] = &band_cells[i];

    ema(ema_out, out_ticked, ema_state, NCC_START, inputs, ticked, valid);
    band(band_out, out_ticked, band_state, NCC_START, inputs, ticked, valid);
    if (fault("start")) return 1;
    const double xs[] = {-1.0, 0.0, 0.5, 1.0, -0.6, 0.2};
    for (int i = 0; i < 6; ++i) {
        x = xs[i];
        memset(out_ticked, 0, sizeof out_ticked);
        ema(ema_out, out_ticked, ema_state, NCC_EXECUTE, inputs, ticked, valid);
        if (!fault("ema") && out_ticked[0]) printf("x=%g -> ema=%g", x, avg);
        memset(out_ticked, 0, sizeof out_ticked);
        band(band_out, out_ticked, band_state, NCC_EXECUTE, inputs, ticked, valid);
        if (!fault("band") && out_ticked[0]) printf(" band=%lld\n", (long long)count);
    }
    ema(ema_out, out_ticked, ema_state, NCC_STOP, inputs, ticked, valid);
    band(band_out, out_ticked, band_state, NCC_STOP, inputs, ticked, valid);
    if (fault("stop")) return 1;
    printf("%d nodes, no Python\n", AOTDEMO_N_NODES);
    dlclose(lib);
    return 0;
}
